"""``samrs import-release``: a hand-made folder in the authors' release layout becomes a SAMRS folder."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
from datasets import Image as ImageFeature
from datasets import load_dataset
from huggingface_hub import DatasetCard
from PIL import Image
from pycocotools import mask as mask_utils
from release_folders import FAST_TILES, SEGS, SOTA_TILES, Shape, write_release

from samrs_hf.cli import main
from samrs_hf.dataset.hub import files_to_push
from samrs_hf.dataset.release import (
    RELEASE_SOURCE,
    ImportOptions,
    find_layout,
    import_release,
)
from samrs_hf.dataset.subsets import SUBSETS
from samrs_hf.geometry import hbox_xyxy_to_xywh, rbox_to_polygon


def _import(root, out, subset="sota", **options):
    return import_release(ImportOptions(subset, root, out, rows_per_shard=2, **options))


def _pkl(root, subset, name):
    with open(root / SEGS[subset] / "ins" / f"{name}.pkl", "rb") as file:
        return pickle.load(file)  # our own test file: plain pickle is fine here


def _raw(out, subset, split):
    rows = load_dataset(str(out), subset, split=split)
    return rows.cast_column("image", ImageFeature(decode=False)).cast_column("semantic_map", ImageFeature(decode=False))


def _decode(segmentation) -> np.ndarray:
    return mask_utils.decode({"size": segmentation["size"], "counts": segmentation["counts"].encode()})


@pytest.fixture(scope="module")
def sota(tmp_path_factory):
    """The SOTA release of ``SOTA_TILES`` imported into ``samrs/``; returns (release root, out, summary)."""
    base = tmp_path_factory.mktemp("release")
    root = write_release(base / "dotav2_1024" / "trainval", "sota", SOTA_TILES)
    out = base / "samrs"
    return root, out, _import(root, out)


def test_release_loads_with_train_and_validation(sota):
    _, out, summary = sota
    dataset = load_dataset(str(out), "sota")
    assert set(dataset) == {"train", "validation"}
    assert dataset["train"].features == SUBSETS["sota"].features
    assert sorted(dataset["train"]["image_id"]) == sorted(SOTA_TILES["train.txt"])
    assert dataset["validation"]["image_id"] == list(SOTA_TILES["valid.txt"])
    assert (summary.written, summary.instances, summary.listed) == (4, 6, {"train": 3, "validation": 1})
    assert summary.without_pkl == ["train/P0003__1024__0___824"]


@pytest.mark.parametrize("split", ["train", "validation"])
def test_instances_maps_and_images_are_the_releases(sota, split):
    root, out, _ = sota
    for row in _raw(out, "sota", split):
        name = row["image_id"]
        assert row["image"]["bytes"] == (root / "images" / f"{name}.png").read_bytes()
        gray = root / SEGS["sota"] / "gray" / f"{name}.png"
        assert row["semantic_map"]["bytes"] == gray.read_bytes()
        assert row["source"] == f"images/{name}.png" and row["tile"] == [0, 0]
        released = _pkl(root, "sota", name) if (gray.parent.parent / "ins" / f"{name}.pkl").exists() else []
        assert len(row["objects"]) == len(released)
        for obj, inst in zip(row["objects"], released):
            assert obj["segmentation"] == {"size": inst["mask"]["size"], "counts": inst["mask"]["counts"]}
            np.testing.assert_array_equal(_decode(obj["segmentation"]), mask_utils.decode(inst["mask"]))
            np.testing.assert_array_equal(obj["prompt_box"], inst["bbox"])
            np.testing.assert_allclose(obj["bbox"], hbox_xyxy_to_xywh(inst["bbox"]))
            assert SUBSETS["sota"].classes[obj["category"]] == inst["category"] and obj["category"] == inst["label"]
            assert obj["area"] == inst["size"] and math.isnan(obj["score"]) and obj["rbox"] is None


def test_semantic_map_is_the_gray_png_pixel_for_pixel(sota):
    root, out, _ = sota
    for row in load_dataset(str(out), "sota", split="train"):
        gray = Image.open(root / SEGS["sota"] / "gray" / f"{row['image_id']}.png")
        assert row["semantic_map"].mode == "L"
        np.testing.assert_array_equal(np.asarray(row["semantic_map"]), np.asarray(gray))


def test_overlaps_keep_the_releases_painting_order(sota):
    _, out, _ = sota
    (row,) = [r for r in load_dataset(str(out), "sota", split="train") if r["image_id"] == "P0001__1024__0___0"]
    semantic = np.asarray(row["semantic_map"])
    plane, ship = (_decode(o["segmentation"]).astype(bool) for o in row["objects"])
    assert (semantic[plane & ship] == 5).all() and (semantic[plane & ~ship] == 4).all()  # the later ship wins


def test_card_says_imported_from_the_release(sota):
    root, out, _ = sota
    card = DatasetCard.load(out / "README.md")
    assert "Imported from the authors' SAMRS release" in card.text and "Labelled with" not in card.text
    assert "academic research use only" in card.text and "wang2023samrs" in card.text
    assert "(`samrs import-release`, from\ntrainval (a local folder))" in card.text
    settings = (out / "sota" / ".build.json").read_text()
    assert RELEASE_SOURCE in settings and str((root / SEGS["sota"] / "gray").resolve()) in settings  # to resume
    local = str(root.parents[1]).encode()
    assert [name for name in files_to_push(out) if local in (out / name).read_bytes()] == []  # what samrs push sends


def test_rerun_resumes_and_other_folders_are_refused(tmp_path):
    root = write_release(tmp_path / "release", "sota", SOTA_TILES)
    out = tmp_path / "samrs"
    assert _import(root, out, limit=1).written == 2  # the first name of each list
    summary = _import(root, out)
    assert (summary.already_done, summary.written) == (2, 2)
    assert len(load_dataset(str(out), "sota", split="train")) == 3
    other = tmp_path / "other_gray"
    (root / SEGS["sota"] / "gray").rename(other)
    with pytest.raises(ValueError, match=r"build\.json: the shards here were built with release=.*--overwrite"):
        _import(root, out, gray=other)
    assert _import(root, out, gray=other, overwrite=True).written == 4


def test_old_pkls_with_a_category_index_and_no_label_are_read(tmp_path):
    root = write_release(tmp_path / "release", "sota", SOTA_TILES, old=True)
    assert "label" not in _pkl(root, "sota", "P0004__1024__0___0")[0]
    _import(root, tmp_path / "samrs")
    (row,) = load_dataset(str(tmp_path / "samrs"), "sota", split="validation")
    assert [o["category"] for o in row["objects"]] == [14]


def test_sior_boxes_are_float32_and_images_jpeg(tmp_path):
    tiles = {"train.txt": {"00001": [Shape(13, box=(3.5, 4, 30.25, 20))]}, "valid.txt": {"00002": []}}
    root = write_release(tmp_path / "dior", "sior", tiles)
    assert _pkl(root, "sior", "00001")[0]["bbox"].dtype == np.float32
    _import(root, tmp_path / "samrs", "sior")
    (row,) = _raw(tmp_path / "samrs", "sior", "train")
    assert row["image"]["bytes"] == (root / "JPEGImages-trainval" / "00001.jpg").read_bytes()
    assert row["objects"][0]["prompt_box"] == [3.5, 4.0, 30.25, 20.0] and row["objects"][0]["category"] == 13


def test_fast_keeps_rhbox_prompts_and_rboxes(tmp_path):
    root = write_release(tmp_path / "fair1m_1024" / "trainval", "fast", FAST_TILES)
    _import(root, tmp_path / "samrs", "fast")
    rows = load_dataset(str(tmp_path / "samrs"), "fast")
    for split, list_file in (("train", "train.txt"), ("validation", "valid.txt")):
        for row in rows[split]:
            released = _pkl(root, "fast", row["image_id"])
            assert [s.label for s in FAST_TILES[list_file][row["image_id"]]] == [o["category"] for o in row["objects"]]
            for obj, inst in zip(row["objects"], released):
                assert inst["rbox"].shape == (4, 2) and inst["rbox"].dtype == np.float64
                np.testing.assert_allclose(obj["prompt_box"], inst["rhbox"], rtol=1e-6)
                np.testing.assert_allclose(obj["bbox"], hbox_xyxy_to_xywh(inst["rhbox"]), rtol=1e-6, atol=1e-5)
                corners = {tuple(p) for p in np.round(rbox_to_polygon(obj["rbox"]), 3)}
                assert corners == {tuple(p) for p in np.round(inst["rbox"], 3)}  # the same rectangle


# ------------------------------------------------------------------------------------------ bad input


def test_an_area_that_disagrees_with_the_rle_names_the_file_and_instance(tmp_path, capsys):
    root = write_release(tmp_path / "release", "sota", SOTA_TILES)
    path = root / SEGS["sota"] / "ins" / "P0002__1024__824___0.pkl"
    instances = _pkl(root, "sota", "P0002__1024__824___0")
    instances[1]["size"] = np.int64(instances[1]["size"] + 1)
    path.write_bytes(pickle.dumps(instances))
    with pytest.raises(ValueError, match=rf"{path}, instance 1: 'size' is \d+ but its RLE covers \d+"):
        _import(root, tmp_path / "samrs")
    summary = _import(root, tmp_path / "samrs", skip_bad=True)
    assert summary.skipped == {"bad_pkl": 1} and str(path) in summary.format()
    assert summary.already_done + summary.written == 3  # rows committed before the error are kept


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"label": 3}, r"label 3 disagrees with category 'harbor' \(index 14\)"),
        ({"category": "pier"}, r"category 'pier' is not a sota class"),
        ({"bbox": np.zeros(3)}, r"'bbox' is .*, not 4 finite numbers"),
        ({"mask": {"size": [10, 10], "counts": "PP"}}, r"mask size \[10, 10\] but the image is \[48, 64\]"),
        ({"size": "many"}, r"'size' is 'many', not an integer"),
        ({"label": None, "category": [1]}, r"category a list of 1 items is neither a class name nor an index"),
    ],
)
def test_bad_instance_fields_are_one_clear_error(tmp_path, change, message):
    root = write_release(tmp_path / "release", "sota", SOTA_TILES)
    (item,) = _pkl(root, "sota", "P0004__1024__0___0")
    (root / SEGS["sota"] / "ins" / "P0004__1024__0___0.pkl").write_bytes(pickle.dumps([item | change]))
    with pytest.raises(ValueError, match=rf"P0004__1024__0___0\.pkl, instance 0: {message}"):
        _import(root, tmp_path / "samrs")


def test_semantic_maps_that_are_not_mode_l_or_mis_sized_are_refused(tmp_path):
    root = write_release(tmp_path / "release", "sota", SOTA_TILES)
    gray = root / SEGS["sota"] / "gray"
    Image.open(gray / "P0004__1024__0___0.png").convert("RGB").save(gray / "P0004__1024__0___0.png")
    with pytest.raises(ValueError, match=r"P0004__1024__0___0\.png: a PNG image of mode RGB, not the mode-L PNG"):
        _import(root, tmp_path / "samrs")
    Image.new("L", (10, 10), 255).save(gray / "P0004__1024__0___0.png")
    with pytest.raises(ValueError, match=r"P0004__1024__0___0\.png: image is 64x48 but its annotation says 10x10"):
        _import(root, tmp_path / "samrs")
    Image.new("L", (64, 48), 200).save(gray / "P0004__1024__0___0.png")
    with pytest.raises(ValueError, match=r"values \[200\] are neither class indices 0\.\.17 nor 255"):
        _import(root, tmp_path / "samrs")
    summary = _import(root, tmp_path / "samrs", skip_bad=True)
    assert summary.skipped == {"bad_semantic_map": 1} and summary.already_done + summary.written == 3


def test_a_truncated_image_is_skipped_with_skip_bad(tmp_path):
    root = write_release(tmp_path / "release", "sota", SOTA_TILES)
    image = root / "images" / "P0001__1024__0___0.png"
    image.write_bytes(image.read_bytes()[:200])
    with pytest.raises(ValueError, match=rf"{image}: cannot read image: image file is truncated"):
        _import(root, tmp_path / "samrs")
    summary = _import(root, tmp_path / "samrs", skip_bad=True)
    assert summary.skipped == {"unreadable_image": 1} and summary.already_done + summary.written == 3


def test_listed_names_without_files_stop_before_reading(tmp_path):
    root = write_release(tmp_path / "release", "sota", SOTA_TILES)
    (root / "valid.txt").write_text("P0004__1024__0___0\nP9999\n")
    with pytest.raises(
        FileNotFoundError, match=r"1 names in .* have no image in .*images \(e\.g\. P9999\); .*--images"
    ):
        _import(root, tmp_path / "samrs")
    summary = _import(root, tmp_path / "samrs", skip_bad=True)
    assert summary.skipped == {"missing_image": 1} and "P9999" in summary.format()


@pytest.mark.parametrize(
    ("remove", "message"),
    [
        ("images", r"no image folder \(images/ or JPEGImages\*/\); point at it with --images DIR"),
        ("hbox_segs_init", r"no label folder \(hbox_segs\*/ holding gray/ and ins/\); point at them with --gray"),
        ("hbox_segs_init/ins", r"ins: no such folder; point at it with --ins DIR"),
        ("train.txt valid.txt", r"no split lists \(train\.txt, valid\.txt\); give them with --split-list train="),
    ],
)
def test_a_missing_part_of_the_layout_is_named_with_the_option_to_give_it(tmp_path, capsys, remove, message):
    import shutil

    root = write_release(tmp_path / "release", "sota", SOTA_TILES)
    for part in remove.split():
        shutil.rmtree(root / part) if (root / part).is_dir() else (root / part).unlink()
    assert main(["import-release", "sota", "--root", str(root), "--out", str(tmp_path / "samrs")]) == 1
    err = capsys.readouterr().err
    assert len([line for line in err.splitlines() if "error:" in line]) == 1
    assert "Traceback" not in err
    assert __import__("re").search(message, err), err


def test_options_override_detection(tmp_path):
    root = write_release(tmp_path / "release", "sota", SOTA_TILES)
    (root / "images").rename(tmp_path / "pictures")
    (root / SEGS["sota"]).rename(tmp_path / "labels")
    (root / "valid.txt").rename(tmp_path / "held_out.txt")
    (root / "hbox_segs_other").mkdir()
    layout = find_layout(
        root,
        "sota",
        images=[tmp_path / "pictures"],
        gray=tmp_path / "labels" / "gray",
        ins=tmp_path / "labels" / "ins",
        split_lists={"valid": tmp_path / "held_out.txt", "extra": tmp_path / "held_out.txt"},
    )
    assert layout.split_lists == {"validation": tmp_path / "held_out.txt", "extra": tmp_path / "held_out.txt"}
    argv = ["import-release", "sota", "--root", str(root), "--out", str(tmp_path / "samrs")]
    argv += ["--images", str(tmp_path / "pictures"), "--gray", str(tmp_path / "labels" / "gray")]
    argv += ["--ins", str(tmp_path / "labels" / "ins"), "--split-list", f"test={tmp_path / 'held_out.txt'}"]
    assert main(argv) == 0
    (row,) = load_dataset(str(tmp_path / "samrs"), "sota", split="test")
    assert row["image_id"] == "P0004__1024__0___0" and row["source"] == "../pictures/P0004__1024__0___0.png"


def test_several_label_folders_must_be_chosen(tmp_path):
    root = write_release(tmp_path / "release", "sota", SOTA_TILES)
    (root / "hbox_segs_old").mkdir()
    with pytest.raises(ValueError, match=r"several label folders \(hbox_segs_init, hbox_segs_old\); choose one"):
        find_layout(root, "sota")


def test_stats_viz_and_coco_export_read_an_imported_folder(sota, tmp_path, capsys):
    import json

    _, out, _ = sota
    assert main(["stats", str(out), "--config", "sota", "--out", str(tmp_path / "stats")]) == 0
    assert main(["viz", str(out), "--config", "sota", "--n", "3", "--out", str(tmp_path / "viz")]) == 0
    assert main(["export-coco", str(out), "--config", "sota", "--out", str(tmp_path / "sota.json")]) == 0
    coco = json.loads((tmp_path / "sota.json").read_text())
    assert len(coco["annotations"]) == 5 and all("score" not in a for a in coco["annotations"])  # not recorded
    assert (tmp_path / "viz" / "sota_overlays.png").is_file() and list((tmp_path / "stats").glob("*.png"))


@pytest.mark.slow
def test_two_accelerate_processes_import_the_same_rows(sota, tmp_path):
    import socket
    import subprocess
    import sys
    from pathlib import Path

    root, single, _ = sota
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    accelerate = Path(sys.executable).with_name("accelerate")
    command = [
        str(accelerate), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(port),
        "-m", "samrs_hf.cli", "import-release", "sota", "--root", str(root), "--out", str(tmp_path / "samrs"),
        "--rows-per-shard", "1",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = {path.name.split("-")[1] for path in (tmp_path / "samrs" / "sota").glob("*.parquet")}
    assert ranks == {"r00", "r01"}
    assert result.stdout.count("imported the sota release") == 1 and "tiles written: 4" in result.stdout
    for split in ("train", "validation"):
        both = [_raw(folder, "sota", split).sort("image_id").to_list() for folder in (single, tmp_path / "samrs")]
        assert json_rows(both[0]) == json_rows(both[1])


def json_rows(rows: list[dict]) -> str:
    """Rows as comparable text (NaN scores compare equal as text)."""
    import json

    return json.dumps(rows, default=lambda value: value.hex() if isinstance(value, bytes) else repr(value))
