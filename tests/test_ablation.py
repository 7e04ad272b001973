import json
import math

import numpy as np
import pytest

from samrs_hf.ablation import (
    PAPER_FIGURES,
    PAPER_PROMPTS,
    ablation_markdown,
    parse_prompt_list,
    score_image,
    write_ablation,
)
from samrs_hf.metrics import InstanceIoU
from samrs_hf.prompts import PromptSpec


def test_paper_rows_are_fifteen_distinct_valid_prompts():
    specs = parse_prompt_list("paper")
    assert len(specs) == 15 == len({str(s) for s in specs})
    assert [str(s) for s in specs] == [str(PromptSpec.parse(p)) for p in PAPER_PROMPTS]
    assert set(PAPER_FIGURES) <= set(PAPER_PROMPTS)
    assert {"cp+hbox", "hbox+hbox_m", "cp+rhbox+rhbox_m"} <= set(PAPER_PROMPTS)


def test_prompt_list_from_text():
    assert [str(s) for s in parse_prompt_list("hbox, rhbox ,cp+hbox")] == ["hbox", "rhbox", "cp+hbox"]
    with pytest.raises(ValueError, match="unknown prompt"):
        parse_prompt_list("hbox,obb")
    with pytest.raises(ValueError, match="repeats"):
        parse_prompt_list("hbox,hbox")
    with pytest.raises(ValueError, match="no prompt"):
        parse_prompt_list(" , ")


def _objects(rng, n=4, size=(40, 50)):
    masks = []
    for _ in range(n):
        m = np.zeros(size, bool)
        y, x = rng.integers(0, 30), rng.integers(0, 40)
        m[y : y + 8, x : x + 9] = True
        masks.append(m)
    return masks


def test_predicting_the_ground_truth_scores_100():
    rng = np.random.default_rng(0)
    meter = InstanceIoU()
    for _ in range(3):  # three images
        gt = _objects(rng)
        score_image(meter, enumerate(gt), gt)
    assert meter.instances == 12 and meter.miou_i == 100 and meter.miou_p == 100


def test_objects_without_ground_truth_are_left_out():
    gt = _objects(np.random.default_rng(1), n=2)
    pred = [np.zeros_like(gt[0]), gt[1]]
    meter = InstanceIoU()
    score_image(meter, enumerate(pred), [None, gt[1]])
    assert meter.instances == 1 and meter.miou_i == 100
    score_image(meter, enumerate(pred), gt)  # now object 0 has ground truth and an empty prediction
    assert meter.instances == 3 and math.isclose(meter.miou_i, 200 / 3)


def test_table_and_json(tmp_path):
    good, empty = InstanceIoU(), InstanceIoU()
    good.update(np.ones((2, 2), bool), np.array([[1, 1], [0, 0]], bool))
    results = {"hbox": good, "cp+hbox": empty}
    table = ablation_markdown(results)
    assert "| `hbox` | 50.00 | 50.00 | 1 | 89.97 | 79.40 |" in table
    assert "| `cp+hbox` | – | – | 0 | – | – |" in table
    md, js = write_ablation(tmp_path, results, {"model": "m", "images": 1})
    assert "- model: m" in md.read_text()
    data = json.loads(js.read_text())
    assert data["images"] == 1
    assert data["rows"][0] == {"prompt": "hbox", "mIoU_I": 50.0, "mIoU_P": 50.0, "instances": 1,
                               "paper_mIoU_I": 89.97, "paper_mIoU_P": 79.40}
    assert data["rows"][1]["mIoU_I"] is None
