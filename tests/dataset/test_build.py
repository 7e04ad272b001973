"""End-to-end builds of SOTA, SIOR and FAST from small raw folders with a tiny random SAM."""

import runpy
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from datasets import Image as ImageFeature
from datasets import load_dataset
from huggingface_hub import DatasetCard
from masks_and_boxes import encode_rle
from PIL import Image
from pycocotools import mask as mask_utils
from raw_datasets import make_dior_root, make_dota_root, make_fair1m_root

from samrs_hf import cli
from samrs_hf.dataset.build import BuildOptions, build_subset
from samrs_hf.dataset.hub import files_to_push
from samrs_hf.dataset.shards import shard_files
from samrs_hf.dataset.subsets import SUBSETS
from samrs_hf.geometry import rbox_to_rhbox
from samrs_hf.labeling.labeler import SamLabeler
from samrs_hf.labeling.mask_window import MaskWindow
from samrs_hf.labeling.sam_frame import SamFrame
from samrs_hf.sources.dota import read_dota_labels

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(tmp_path_factory, fixtures_dir, tiny_sam_dir):
    """All three subsets built into one folder named ``samrs``; returns (folder, raw roots, summaries)."""
    base = tmp_path_factory.mktemp("build")
    roots = {
        "sota": make_dota_root(base / "raw_dota", fixtures_dir),
        "sior": make_dior_root(base / "raw_dior", fixtures_dir),
        "fast": make_fair1m_root(base / "raw_fair1m"),
    }
    out = base / "samrs"
    splits = {"sota": None, "sior": None, "fast": ("train",)}  # SOTA/SIOR: the paper's splits
    summaries = {
        name: build_subset(
            BuildOptions(name, root, out, str(tiny_sam_dir), splits=splits[name], device="cpu", rows_per_shard=2)
        )
        for name, root in roots.items()
    }
    return out, roots, summaries


def _load(out, name, split="train"):
    return load_dataset(str(out), name, split=split)


def _decode(segmentation) -> np.ndarray:
    return mask_utils.decode({"size": segmentation["size"], "counts": segmentation["counts"].encode()}).astype(bool)


def test_every_subset_loads_with_the_schema(built):
    out, _, _ = built
    expected = {
        "sota": {
            "train": {"P1888__1024__0___0"},
            "validation": {f"P9000__1024__{x}___{y}" for x in (0, 476) for y in (0, 176)},
        },
        "sior": {"train": {"00001"}},
        "fast": {"train": {f"0__600__{x}___{y}" for x in (0, 500) for y in (0, 400)}},
    }
    for name, splits in expected.items():
        dataset = load_dataset(str(out), name)
        assert set(dataset) == set(splits)
        for split, ids in splits.items():
            assert dataset[split].features == SUBSETS[name].features
            assert set(dataset[split]["image_id"]) == ids


def test_load_by_folder_name_from_the_parent(built, monkeypatch):
    out, _, _ = built
    monkeypatch.chdir(out.parent)
    fast = load_dataset("samrs", "fast", split="train")
    assert len(fast) == 4 and fast.features["objects"].feature["category"].names == list(SUBSETS["fast"].classes)


@pytest.mark.parametrize(
    ("name", "split"), [("sota", "train"), ("sota", "validation"), ("sior", "train"), ("fast", "train")]
)
def test_semantic_maps_agree_with_instance_masks(built, name, split):
    out, _, _ = built
    for row in _load(out, name, split):
        semantic = np.asarray(row["semantic_map"])
        assert semantic.shape == (row["height"], row["width"]) == np.asarray(row["image"]).shape[:2]
        masks = [_decode(o["segmentation"]) for o in row["objects"]]
        covered = np.any(masks, axis=0)
        assert np.all((semantic == 255) == ~covered)
        for category in np.unique(semantic[covered]):
            of_class = np.any([m for m, o in zip(masks, row["objects"]) if o["category"] == category], axis=0)
            assert np.all(of_class[semantic == category])
        for mask, obj in zip(masks, row["objects"]):
            assert obj["area"] == mask.sum() > 0 and 0 <= obj["category"] < len(SUBSETS[name].classes)


def test_sota_tiles_cover_the_scene_and_hold_its_pixels(built):
    out, roots, summaries = built
    scene = np.asarray(Image.open(roots["sota"] / "val" / "images" / "P9000.png").convert("RGB"))
    covered = np.zeros(scene.shape[:2], dtype=bool)
    for row in _load(out, "sota", "validation"):
        (x0, y0), w, h = row["tile"], row["width"], row["height"]
        assert (w, h) == (1024, 1024) and row["source"] == "val/images/P9000.png"
        assert row["image_id"] == f"P9000__1024__{x0}___{y0}"
        np.testing.assert_array_equal(np.asarray(row["image"]), scene[y0 : y0 + h, x0 : x0 + w])
        covered[y0 : y0 + h, x0 : x0 + w] = True
    assert covered.all()
    summary = summaries["sota"]
    assert (summary.images, summary.tiles, summary.written) == (2, 5, 5)
    assert summary.dropped["cut_by_tile_edge"] == 1  # the bridge spanning P9000


def test_sota_objects_keep_the_real_categories_and_boxes(built, fixtures_dir):
    out, _, summaries = built
    (row,) = _load(out, "sota", "train")
    labels = read_dota_labels(fixtures_dir / "dota" / "labelTxt" / "P1888.txt").objects
    empty = summaries["sota"].dropped["labeling: empty mask"]
    assert len(row["objects"]) == len(labels) - empty and (row["width"], row["height"]) == (712, 557)
    expected = Counter(SUBSETS["sota"].classes.index(o.category) for o in labels)  # DOTA names are SOTA names
    assert Counter(o["category"] for o in row["objects"]) <= expected
    first = labels[0].hbox
    x0, y0, x1, y1 = first
    np.testing.assert_allclose(row["objects"][0]["bbox"], [x0, y0, x1 - x0, y1 - y0])
    np.testing.assert_allclose(row["objects"][0]["prompt_box"], first)


def test_sior_keeps_the_jpeg_and_horizontal_boxes(built, fixtures_dir):
    out, _, _ = built
    raw = _load(out, "sior").cast_column("image", ImageFeature(decode=False))
    (row,) = raw
    assert row["image"]["bytes"] == (fixtures_dir / "dior" / "JPEGImages" / "00001.jpg").read_bytes()
    assert row["source"] == "JPEGImages-trainval/00001.jpg" and row["tile"] == [0, 0]
    assert all(o["rbox"] is None for o in row["objects"])


def test_fast_objects_have_rboxes_and_rhbox_prompts(built):
    out, _, summaries = built
    rows = _load(out, "fast")
    assert sum(len(r["objects"]) for r in rows) == summaries["fast"].instances == 16
    for row in rows:
        for obj in row["objects"]:
            np.testing.assert_allclose(obj["prompt_box"], rbox_to_rhbox(obj["rbox"]), atol=1e-3)
            x, y, w, h = obj["bbox"]
            assert x >= 0 and y >= 0 and x + w <= row["width"] + 1e-3 and y + h <= row["height"] + 1e-3


def test_card_lists_every_subset_with_counts(built, tiny_sam_dir):
    out, _, summaries = built
    card = DatasetCard.load(out / "README.md")
    assert [c["config_name"] for c in card.data.configs] == ["sota", "sior", "fast"]
    sota = {c["config_name"]: c for c in card.data.configs}["sota"]
    assert sota["data_files"] == [
        {"split": "train", "path": "sota/train-*.parquet"},
        {"split": "validation", "path": "sota/validation-*.parquet"},
    ]
    assert f"instances: {summaries['fast'].instances}" in card.text
    assert f"Labelled with {tiny_sam_dir.name} (a local folder) in float32, prompt `rhbox`" in card.text
    assert "Built from the source splits train, val." in card.text  # SOTA and SIOR: the paper's
    assert "Built from the source splits train.\n" in card.text  # FAST: --split train


def test_what_samrs_push_sends_holds_no_local_path(built):
    out, _, _ = built
    files = files_to_push(out)
    assert files[0] == "README.md" and all(name.endswith(".parquet") for name in files[1:])
    assert {name.split("/")[0] for name in files[1:]} == {"sota", "sior", "fast"}
    local = str(out.parents[1]).encode()  # pytest's base folder: the raw roots, the model and the output
    assert local in (out / "sota" / ".build.json").read_bytes()  # kept here, for resuming
    assert [name for name in files if local in (out / name).read_bytes()] == []


def test_rerun_of_a_finished_build_adds_nothing(built, tiny_sam_dir):
    out, roots, _ = built
    before = sorted(p.name for p in (out / "fast").iterdir())
    summary = build_subset(BuildOptions("fast", roots["fast"], out, str(tiny_sam_dir), splits=("train",), device="cpu"))
    assert (summary.already_done, summary.written) == (4, 0)
    assert sorted(p.name for p in (out / "fast").iterdir()) == before


def test_cli_commands_on_the_built_dataset(built, tmp_path, capsys):
    out, _, _ = built
    assert cli.main(["export-coco", str(out), "--config", "fast", "--out", str(tmp_path / "fast.json")]) == 0
    stats = ["stats", str(out), "--config", "sota", "--split", "validation", "--out", str(tmp_path / "stats")]
    assert cli.main(stats) == 0
    assert cli.main(["viz", str(out), "--config", "sior", "--n", "8", "--out", str(tmp_path / "viz")]) == 0
    pngs = sorted(p.name for p in tmp_path.rglob("*.png"))
    assert pngs == ["sior_overlays.png", "sota_instances.png", "sota_mask_sizes.png", "sota_pixels.png"]
    for png in tmp_path.rglob("*.png"):
        assert Image.open(png).format == "PNG"
    assert (tmp_path / "fast.json").stat().st_size > 0 and "wrote" in capsys.readouterr().out


def test_cli_build_prints_a_summary(tmp_path, fixtures_dir, tiny_sam_dir, capsys):
    root = make_dior_root(tmp_path / "raw", fixtures_dir)
    argv = ["build", "sior", "--root", str(root), "--out", str(tmp_path / "samrs"), "--model", str(tiny_sam_dir)]
    assert cli.main(argv + ["--split", "train", "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert "images read: 1" in printed and "tiles written: 1" in printed and "instances written:" in printed


def test_cli_build_reports_a_bad_root(tmp_path, tiny_sam_dir, capsys):
    argv = ["build", "fast", "--root", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]
    assert cli.main(argv + ["--model", str(tiny_sam_dir)]) == 1
    assert "samrs build: error:" in capsys.readouterr().err


def test_resuming_with_other_settings_is_refused(built, tiny_sam_dir):
    out, roots, _ = built
    options = BuildOptions("fast", roots["fast"], out, str(tiny_sam_dir), splits=("train",), prompt="hbox")
    with pytest.raises(
        ValueError, match=r"build\.json: the shards here were built with prompt='rhbox' \(now 'hbox'\); .*--overwrite"
    ):
        build_subset(options)


def test_loading_script_runs_as_is(tmp_path, fixtures_dir, tiny_sam_dir, monkeypatch):
    root = make_dior_root(tmp_path / "raw", fixtures_dir)
    script = Path(__file__).resolve().parents[2] / "loading_scripts" / "build_subset.py"
    argv = [str(script), "sior", str(root), str(tmp_path / "samrs"), "--model", str(tiny_sam_dir)]
    monkeypatch.setattr(sys, "argv", argv)
    runpy.run_path(str(script), run_name="__main__")
    assert len(load_dataset(str(tmp_path / "samrs"), "sior", split="train")) == 1  # splits train, val, test


def _rows(folder: Path) -> list[dict]:
    tables = [pq.read_table(path).to_pylist() for path in shard_files(folder)]
    return sorted((row for table in tables for row in table), key=lambda row: row["image_id"])


def _compact_masks(masks):
    """``SamLabeler._masks`` answering each box prompt with a smooth elliptical bump over the box (what a trained
    SAM returns, roughly), plus a trace of the tiny model's texture, so that the windowed path decides the masks."""

    def compact(self, encoding, inputs, decoding):
        low_res, score = masks(self, encoding, inputs, decoding)
        (h, w), (ph, pw) = self.frame.mask_size, self.frame.pad_size
        yy, xx = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing="ij")
        bumps = []
        for x0, y0, x1, y1 in (inputs["input_boxes"][:, 0] * torch.tensor([w / pw, h / ph] * 2)).tolist():
            rx, ry = max((x1 - x0) / 2, 0.5), max((y1 - y0) / 2, 0.5)
            bump = 4 * (1 - ((xx - (x0 + x1) / 2) / rx) ** 2 - ((yy - (y0 + y1) / 2) / ry) ** 2)
            bumps.append(bump.clamp(min=-12))
        return torch.stack(bumps).float() + 0.01 * low_res.cpu(), score

    return compact


@pytest.mark.parametrize("masks", ["model", "compact"])
def test_windowed_masks_and_rles_give_the_full_resolution_pipelines_rows(built, tiny_sam_dir, monkeypatch, masks):
    """Rows built with every mask upscaled at full resolution (one ``post_process_masks`` per mask) and
    RLE-encoded from a full-size copy equal the windowed pipeline's bit for bit, for 1024 tiles (SOTA: no
    second resize), 800 images (SIOR) and 600 tiles (FAST); with the tiny model's own masks (periodic, over
    half the image: mostly decided at full resolution) and with compact ones (decided in their windows)."""
    out, roots, _ = built
    splits = {"sota": None, "sior": None, "fast": ("train",)}
    if masks == "compact":
        monkeypatch.setattr(SamLabeler, "_masks", _compact_masks(SamLabeler._masks))
        masks_seen = Counter()  # all masks, and those resized at full resolution (large, or near a rounding tie)
        windows, full_windows = SamFrame.windows, SamFrame._full_windows

        def counted(method, key):
            def call(self, low, size):
                masks_seen[key] += len(low)
                return method(self, low, size)

            return call

        monkeypatch.setattr(SamFrame, "windows", counted(windows, "all"))
        monkeypatch.setattr(SamFrame, "_full_windows", counted(full_windows, "full size"))
        out = out.parent / "windowed-compact"
        for name, root in roots.items():
            build_subset(BuildOptions(name, root, out, str(tiny_sam_dir), splits=splits[name], device="cpu"))
        assert masks_seen["all"] > 50 and masks_seen["full size"] <= 0.05 * masks_seen["all"], masks_seen
    monkeypatch.setattr(
        SamFrame, "windows", lambda self, low, size: [MaskWindow.tight(self.upscale(m, size), 0, 0, size) for m in low]
    )
    monkeypatch.setattr(MaskWindow, "rle", lambda self: encode_rle(self.full()))
    reference = out.parent / f"full-resolution-{masks}"
    for name, root in roots.items():
        build_subset(BuildOptions(name, root, reference, str(tiny_sam_dir), splits=splits[name], device="cpu"))
        assert _rows(reference / name) == _rows(out / name), name
