"""Your own detection set: a COCO instance file builds a SAMRS-style folder (card, load_dataset, COCO export) with its
own classes, and tunes SAM."""

from __future__ import annotations

import json

from datasets import load_dataset
from raw_datasets import write_coco_scenes

from samrs_hf.cli import main
from samrs_hf.experiments.synthetic import make_scene

CLASSES = ("storage-tank", "ship", "plane", "harbor")


def test_coco_file_builds_a_samrs_folder_and_tunes_sam(tmp_path, tiny_sam_dir, capsys):
    annotations = write_coco_scenes(tmp_path / "raw", [make_scene(3)], CLASSES)
    out = tmp_path / "mine"
    assert main(["build", "coco", "--root", str(annotations), "--out", str(out), "--model", str(tiny_sam_dir)]) == 0
    assert "instances written: 23" in capsys.readouterr().out
    card = (out / "README.md").read_text()
    assert "config_name: coco" in card and "COCO instance file" in card and "| harbor |" in card

    rows = load_dataset(str(out), "coco", split="train")
    assert rows.features["objects"].feature["category"].names == list(CLASSES)
    assert rows[0]["source"] == "images/synthetic_3.png" and len(rows[0]["objects"]) == 23
    assert main(["export-coco", str(out), "--config", "coco", "--out", str(tmp_path / "export.json")]) == 0
    exported = json.loads((tmp_path / "export.json").read_text())
    assert [c["name"] for c in exported["categories"]] == list(CLASSES) and len(exported["annotations"]) == 23

    tuned = tmp_path / "tuned"
    options = ["--max-steps", "2", "--batch-size", "1", "--prompts-per-image", "4"]
    assert main(["train-sam", "--model", str(tiny_sam_dir), "--train", str(annotations), "--output-dir", str(tuned),
                 *options]) == 0  # fmt: skip
    assert f"COCO {annotations} (1 images with objects)" in (tuned / "README.md").read_text()
