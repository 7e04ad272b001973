import json
import math

import numpy as np
import pytest

from samrs_hf.experiments.ablation import (
    PAPER_FIGURES,
    PAPER_PROMPTS,
    ablation_markdown,
    parse_prompt_list,
    score_image,
    write_ablation,
)
from samrs_hf.labeling.prompts import PromptSpec
from samrs_hf.metrics import InstanceIoU


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
    assert data["rows"][0] == {
        "prompt": "hbox",
        "mIoU_I": 50.0,
        "mIoU_P": 50.0,
        "instances": 1,
        "paper_mIoU_I": 89.97,
        "paper_mIoU_P": 79.40,
    }
    assert data["rows"][1]["mIoU_I"] is None


@pytest.fixture
def hrsc_root(fixtures_dir, tmp_path):
    """The real HRSC2016 sample (image linked, XML given a seg_color) with a made-up segmentation PNG."""
    from PIL import Image

    from samrs_hf.geometry import rasterize_polygon
    from samrs_hf.sources.hrsc2016 import HRSC2016

    sample = fixtures_dir / "hrsc2016"
    root = tmp_path / "HRSC2016"
    for folder in ("FullDataSet/AllImages", "FullDataSet/Annotations", "FullDataSet/Segmentations", "ImageSets"):
        (root / folder).mkdir(parents=True)
    (root / "FullDataSet/AllImages/100000002.bmp").symlink_to(sample / "AllImages/100000002.bmp")
    xml = (sample / "Annotations/100000002.xml").read_text()
    xml = xml.replace("<seg_color>\n      </seg_color>", "<seg_color>0,128,255</seg_color>", 1)
    (root / "FullDataSet/Annotations/100000002.xml").write_text(xml)
    (root / "ImageSets/test.txt").write_text("100000002\n")
    ship = HRSC2016(root).load("100000002").objects[0]
    segmentation = np.zeros((818, 1146, 3), np.uint8)
    segmentation[rasterize_polygon(ship.polygon, 818, 1146)] = (0, 128, 255)
    Image.fromarray(segmentation).save(root / "FullDataSet/Segmentations/100000002.png")
    return root


def test_samrs_ablate_end_to_end(hrsc_root, tiny_sam_dir, tmp_path, capsys):
    from samrs_hf.cli import main

    out = tmp_path / "out"
    code = main(
        [
            "ablate",
            "--root",
            str(hrsc_root),
            "--model",
            str(tiny_sam_dir),
            "--prompts",
            "paper",
            "--out",
            str(out),
            "--device",
            "cpu",
        ]
    )
    assert code == 0
    data = json.loads((out / "ablation.json").read_text())
    assert data["images"] == 1 and [r["prompt"] for r in data["rows"]] == list(PAPER_PROMPTS)
    for row in data["rows"]:
        assert row["instances"] == 1
        assert 0 <= row["mIoU_I"] <= 100 and 0 <= row["mIoU_P"] <= 100
    assert "| `cp+rhbox+rhbox_m` |" in (out / "ablation.md").read_text()
    assert "ablation.json" in capsys.readouterr().out


def test_ablation_encodes_each_image_once(hrsc_root, tiny_sam_dir, monkeypatch):
    from samrs_hf.experiments.ablation import run_ablation
    from samrs_hf.labeling.labeler import SamLabeler
    from samrs_hf.sources.hrsc2016 import HRSC2016

    labeler = SamLabeler(tiny_sam_dir, device="cpu")
    calls = []
    encode = labeler.encode
    monkeypatch.setattr(labeler, "encode", lambda image: calls.append(1) or encode(image))
    source = HRSC2016(hrsc_root)
    results = run_ablation(
        source, labeler, parse_prompt_list("hbox,rbox_m,cp+rhbox"), source.ablation_ids(), progress=False
    )
    assert len(calls) == 1 and all(m.instances == 1 for m in results.values())
    # same masks as labelling each prompt on its own
    from PIL import Image

    record = source.load("100000002")
    with Image.open(record.image_path) as image:
        image = image.convert("RGB")
    for prompt, meter in results.items():
        alone = InstanceIoU()
        score_image(
            alone,
            ((m.index, m.mask) for m in labeler.label_objects(image, record.objects, prompt)),
            source.gt_masks(record),
        )
        assert (alone.intersections, alone.unions) == (meter.intersections, meter.unions)
