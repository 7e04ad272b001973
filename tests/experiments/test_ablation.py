import json
import math

import numpy as np
import pytest

from samrs_hf.experiments.ablation import (
    PAPER_TABLE1,
    ablation_markdown,
    parse_rows,
    score_image,
    write_ablation,
)
from samrs_hf.labeling.prompts import PromptSpec
from samrs_hf.metrics import InstanceIoU


def test_paper_rows_are_table1_exactly(fixtures_dir):
    lines = (fixtures_dir / "paper" / "table1_hrsc2016_prompts.tsv").read_text().splitlines()
    table = [line.split("\t") for line in lines if line and not line.startswith("#")]
    assert [(r.group, r.prompt, r.miou_i, r.miou_p) for r in PAPER_TABLE1] == [
        (group, prompt, float(i), float(p)) for group, prompt, i, p in table
    ]
    assert parse_rows("paper") == [prompt for _, prompt, _, _ in table]
    assert all(str(PromptSpec.parse(r.prompt)) == r.prompt for r in PAPER_TABLE1)  # canonical spellings


def test_rows_from_text():
    assert parse_rows("hbox, rhbox ,hbox+cp") == ["hbox", "rhbox", "cp+hbox"]
    assert (
        parse_rows("paper,hbox@refine1@best")[-1] == "hbox@best@refine1" and len(parse_rows("paper,rhbox@clip2")) == 16
    )
    with pytest.raises(ValueError, match="unknown prompt"):
        parse_rows("hbox,obb")
    with pytest.raises(ValueError, match="repeats hbox"):
        parse_rows("hbox,paper")
    with pytest.raises(ValueError, match="no row"):
        parse_rows(" , ")


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


def test_table_puts_the_papers_figures_beside_each_models(tmp_path):
    good, empty = InstanceIoU(), InstanceIoU()
    good.update(np.ones((2, 2), bool), np.array([[1, 1], [0, 0]], bool))
    results = {"m1": {"hbox": good, "hbox@best": empty}, "m2": {"hbox": empty, "hbox@best": good}}
    table = ablation_markdown(results)
    assert "| row | paper mIoU_I | paper mIoU_P | m1 mIoU_I | m1 mIoU_P | m1 instances | m2 mIoU_I" in table
    assert "| `hbox` | 89.97 | 79.40 | 50.00 | 50.00 | 1 | – | – | 0 |" in table
    assert "| `hbox@best` | – | – | – | – | 0 | 50.00 | 50.00 | 1 |" in table
    md, js = write_ablation(tmp_path, results, {"models": "m1, m2", "images": 1})
    assert "- models: m1, m2" in md.read_text() and "124 HRSC2016 test images" in md.read_text()
    data = json.loads(js.read_text())
    assert data["images"] == 1 and data["unit"] == "percent"
    assert data["rows"][0] == {
        "row": "hbox",
        "paper": {"group": "hbox", "mIoU_I": 89.97, "mIoU_P": 79.40},
        "models": {
            "m1": {"mIoU_I": 50.0, "mIoU_P": 50.0, "instances": 1},
            "m2": {"mIoU_I": None, "mIoU_P": None, "instances": 0},
        },
    }
    assert data["rows"][1]["paper"] is None


def test_show_paper_needs_no_dataset(capsys):
    from samrs_hf.cli import main

    assert main(["ablate", "--show-paper"]) == 0
    printed = capsys.readouterr().out
    rows = [line for line in printed.splitlines() if line.startswith("| ") and "`" in line]
    assert len(rows) == 15 and "| point | `cp` | 16.14 | 2.72 |" in rows[0]
    assert "| rhbox | `cp+rhbox+rhbox_m` | 49.24 | 39.03 |" in rows[-1] and "rhbox+rbox_m" not in printed


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


def test_samrs_ablate_end_to_end_with_two_models(hrsc_root, tiny_sam_dir, tmp_path, capsys):
    from samrs_hf.cli import main
    from samrs_hf.experiments.tiny_sam import save_tiny_sam

    other = save_tiny_sam(tmp_path / "other-sam", seed=3)
    out = tmp_path / "out"
    argv = ["ablate", "--root", str(hrsc_root), "--model", str(tiny_sam_dir), "--model", str(other)]
    assert main(argv + ["--prompts", "paper,hbox@best", "--out", str(out), "--device", "cpu"]) == 0
    data = json.loads((out / "ablation.json").read_text())
    assert data["images"] == 1 and [r["row"] for r in data["rows"]] == parse_rows("paper") + ["hbox@best"]
    for row in data["rows"]:
        assert list(row["models"]) == [str(tiny_sam_dir), str(other)]
        for measured in row["models"].values():
            assert measured["instances"] == 1 and 0 <= measured["mIoU_I"] <= 100
    assert "| `cp+rhbox+rhbox_m` | 49.24 | 39.03 |" in (out / "ablation.md").read_text()
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
    results = run_ablation(source, labeler, parse_rows("hbox,rbox_m,cp+rhbox"), source.ablation_ids(), progress=False)
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
