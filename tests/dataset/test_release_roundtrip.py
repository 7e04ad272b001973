"""``samrs export-release`` writes the release layout, and ``import-release`` of it gives the rows back."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from datasets import Image as ImageFeature
from datasets import load_dataset
from PIL import Image
from raw_datasets import fair1m_grid_objects, make_dior_root, make_dota_root, quad, write_fair1m_scene
from release_folders import FAST_TILES, SEGS, SOTA_TILES, write_release
from samrs_folders import overlap_row, write_samrs

from samrs_hf.cli import main
from samrs_hf.dataset.build import BuildOptions, build_subset
from samrs_hf.dataset.release import RELEASE_PALETTE, ImportOptions, export_release, import_release
from samrs_hf.dataset.release.instances import BOX_KEY
from samrs_hf.dataset.subsets import get_subset
from samrs_hf.geometry import hbox_xyxy_to_xywh, rbox_to_polygon

KEYS = {
    "sota": ["mask", "bbox", "category", "size", "label", BOX_KEY],
    "sior": ["mask", "bbox", "category", "size", "label", BOX_KEY],
    "fast": ["mask", "rbox", "rhbox", "category", "label", "size", BOX_KEY],
}


def _rows(out, subset) -> dict[str, list[dict]]:
    """Every split's rows with undecoded image bytes, sorted by image_id."""
    dataset = load_dataset(str(out), subset)
    rows = {}
    for split, part in dataset.items():
        part = part.cast_column("image", ImageFeature(decode=False))
        rows[split] = sorted(part, key=lambda row: row["image_id"])
    return rows


def _corners(rbox) -> set:
    return {tuple(p) for p in np.round(rbox_to_polygon(rbox), 2)}


def assert_same_rows(before: dict, after: dict, rotated: bool) -> None:
    """Image bytes, semantic map pixels, source, tile, instance RLEs, boxes, prompt boxes, categories and areas
    agree; with ``rotated`` (FAST: the only release with an R-Box) rboxes are the same rectangles, else the
    release has none."""
    assert {s: [r["image_id"] for r in rows] for s, rows in after.items()} == {
        s: [r["image_id"] for r in rows] for s, rows in before.items()
    }
    for split, rows in before.items():
        for old, new in zip(rows, after[split]):
            assert new["image"]["bytes"] == old["image"]["bytes"]
            np.testing.assert_array_equal(np.asarray(new["semantic_map"]), np.asarray(old["semantic_map"]))
            assert (new["width"], new["height"]) == (old["width"], old["height"])
            assert (new["source"], new["tile"]) == (old["source"], old["tile"])
            assert len(new["objects"]) == len(old["objects"])
            for a, b in zip(old["objects"], new["objects"]):
                assert b["segmentation"] == a["segmentation"]
                assert (b["bbox"], b["prompt_box"]) == (a["bbox"], a["prompt_box"])
                assert (b["category"], b["area"]) == (a["category"], a["area"])
                if rotated:
                    assert _corners(a["rbox"]) == _corners(b["rbox"])
                else:
                    assert b["rbox"] is None


def _round_trip(out, subset, tmp_path):
    release = tmp_path / "release"
    export_release(out, subset, release)
    import_release(ImportOptions(subset, release, tmp_path / "again"))
    return release, tmp_path / "again"


def make_fair1m_root_with_a_cut_object(root):
    """A FAIR1M scene (1100x1000: 600 tiles at x0 0 and 500) with a rotated bus across x = 600, which the
    tile at x0 = 0 clips: its box there is not the bounds of its clipped R-Box, the ``rhbox`` prompt."""
    objects = fair1m_grid_objects(1100, 1000) + [("Bus", quad(580, 230, 60, 24, 0.3))]
    write_fair1m_scene(root / "train", "0", 1100, 1000, objects)
    return root


@pytest.fixture(scope="module")
def built(tmp_path_factory, fixtures_dir, tiny_sam_dir):
    """SOTA (a 4-tile validation scene), SIOR (one DIOR image) and FAST (a 4-tile scene) built with the tiny SAM."""
    base = tmp_path_factory.mktemp("roundtrip")
    out = base / "samrs"
    roots = {
        "sota": (make_dota_root(base / "dota", fixtures_dir), ("val",)),
        "sior": (make_dior_root(base / "dior", fixtures_dir), None),
        "fast": (make_fair1m_root_with_a_cut_object(base / "fair1m"), ("train",)),
    }
    for subset, (root, splits) in roots.items():
        options = BuildOptions(subset, root, out, str(tiny_sam_dir), splits=splits, device="cpu", prompt_batch_size=16)
        build_subset(options)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("subset", ["sota", "sior", "fast"])
def test_import_of_the_export_of_a_build_gives_its_rows_back(built, tmp_path, subset):
    release, again = _round_trip(built, subset, tmp_path)
    before, after = _rows(built, subset), _rows(again, subset)
    assert_same_rows(before, after, rotated=subset == "fast")
    assert all(np.isnan(o["score"]) for rows in after.values() for r in rows for o in r["objects"])
    if subset == "fast":  # an object clipped at a tile edge: its box is not its prompt's (the rbox's bounds)
        objects = [o for rows in before.values() for r in rows for o in r["objects"]]
        assert any(not np.allclose(o["bbox"], hbox_xyxy_to_xywh(o["prompt_box"]), atol=0.1) for o in objects)
        assert any(r["tile"] != [0, 0] for rows in before.values() for r in rows)
    fmt = get_subset(subset).release
    for split, rows in before.items():
        list_file = {"train": "train.txt", "validation": "valid.txt"}[split]
        assert sorted((release / list_file).read_text().split()) == [r["image_id"] for r in rows]
        for row in rows:
            assert (release / fmt.images / f"{row['image_id']}{fmt.suffix}").read_bytes() == row["image"]["bytes"]


@pytest.mark.slow
@pytest.mark.parametrize("subset", ["sota", "sior", "fast"])
def test_exported_files_have_the_releases_keys_types_and_palette(built, tmp_path, subset):
    release = tmp_path / "release"
    export_release(built, subset, release)
    segs = release / get_subset(subset).release.segs
    for path in sorted((segs / "ins").glob("*.pkl")):
        with open(path, "rb") as file:
            instances = pickle.load(file)  # written by this test's own export
        assert isinstance(instances, list) and instances
        for item in instances:
            assert list(item) == KEYS[subset]
            assert isinstance(item["mask"]["counts"], str) and all(type(v) is int for v in item["mask"]["size"])
            assert type(item["category"]) is str and type(item["label"]) is int and type(item["size"]) is np.int64
            box = item["rhbox" if subset == "fast" else "bbox"]
            assert box.dtype == (np.float32 if subset == "sior" else np.float64) and box.shape == (4,)
            assert item[BOX_KEY].dtype == np.float32 and item[BOX_KEY].shape == (4,)
            if subset == "fast":
                assert item["rbox"].dtype == np.float64 and item["rbox"].shape == (4, 2)
        gray = np.asarray(Image.open(segs / "gray" / f"{path.stem}.png"))
        color = Image.open(segs / "color" / f"{path.stem}.png")
        assert color.mode == "RGB"
        np.testing.assert_array_equal(np.asarray(color), RELEASE_PALETTE[gray])
        assert (np.asarray(color)[gray == 255] == 255).all()


def test_round_trip_of_a_hand_made_release_keeps_its_files(tmp_path):
    root = write_release(tmp_path / "original", "sota", SOTA_TILES)
    import_release(ImportOptions("sota", root, tmp_path / "samrs"))
    release, again = _round_trip(tmp_path / "samrs", "sota", tmp_path)
    assert_same_rows(_rows(tmp_path / "samrs", "sota"), _rows(again, "sota"), rotated=False)
    for list_file in ("train.txt", "valid.txt"):
        assert sorted((release / list_file).read_text().split()) == sorted((root / list_file).read_text().split())
    for name in (n for tiles in SOTA_TILES.values() for n in tiles):
        assert (release / "images" / f"{name}.png").read_bytes() == (root / "images" / f"{name}.png").read_bytes()
        gray = (release / "hbox_segs" / "gray" / f"{name}.png").read_bytes()
        assert gray == (root / SEGS["sota"] / "gray" / f"{name}.png").read_bytes()
        original = root / SEGS["sota"] / "ins" / f"{name}.pkl"
        exported = release / "hbox_segs" / "ins" / f"{name}.pkl"
        if not original.exists():
            assert pickle.loads(exported.read_bytes()) == []
            continue
        for old, new in zip(pickle.loads(original.read_bytes()), pickle.loads(exported.read_bytes()), strict=True):
            assert list(new) == [*old, BOX_KEY] and new["mask"] == old["mask"]
            assert (new["category"], new["label"], new["size"]) == (old["category"], old["label"], old["size"])
            assert new["bbox"].dtype == old["bbox"].dtype and (new["bbox"] == old["bbox"]).all()


def test_round_trip_of_a_hand_made_fast_release(tmp_path):
    root = write_release(tmp_path / "original", "fast", FAST_TILES)
    import_release(ImportOptions("fast", root, tmp_path / "samrs"))
    release, again = _round_trip(tmp_path / "samrs", "fast", tmp_path)
    assert_same_rows(_rows(tmp_path / "samrs", "fast"), _rows(again, "fast"), rotated=True)
    for name in (n for tiles in FAST_TILES.values() for n in tiles):
        old = pickle.loads((root / SEGS["fast"] / "ins" / f"{name}.pkl").read_bytes())
        new = pickle.loads((release / "rhbox_segs" / "ins" / f"{name}.pkl").read_bytes())
        for a, b in zip(old, new, strict=True):
            assert {tuple(p) for p in np.round(a["rbox"], 3)} == {tuple(p) for p in np.round(b["rbox"], 3)}
            np.testing.assert_allclose(b["rhbox"], a["rhbox"], rtol=1e-6)


def test_export_refuses_a_folder_with_files_and_a_name_in_two_splits(tmp_path):
    write_samrs(tmp_path / "samrs", {"sota": {"train": 2, "validation": 1}})
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="taken exists and is not an empty folder"):
        export_release(tmp_path / "samrs", "sota", tmp_path / "taken")
    with pytest.raises(ValueError, match=r"'S0__64__0___0' is in both train and validation; export one of them"):
        export_release(tmp_path / "samrs", "sota", tmp_path / "release")
    summary = export_release(tmp_path / "samrs", "sota", tmp_path / "release", ["train"])
    assert summary.tiles == {"train": 2} and summary.instances == 4 and summary.reencoded == 0
    assert (tmp_path / "release" / "train.txt").read_text() == "S0__64__0___0\nS1__64__0___0\n"
    assert not (tmp_path / "release" / "valid.txt").exists()


def test_sior_export_writes_jpegs_and_counts_the_reencoded(tmp_path, capsys):
    write_samrs(tmp_path / "samrs", {"sior": {"train": 2}}, make_row=overlap_row)
    argv = ["export-release", str(tmp_path / "samrs"), "--config", "sior", "--out", str(tmp_path / "release")]
    assert main(argv) == 0
    assert "images re-encoded to the release's format: 2" in capsys.readouterr().out
    jpeg = Image.open(tmp_path / "release" / "JPEGImages-trainval" / "S0__64__0___0.jpg")
    assert jpeg.format == "JPEG" and jpeg.size == (64, 64)
    assert main(argv[:-1] + [str(tmp_path / "other"), "--split", "validation"]) == 1
    assert "sior has no split 'validation'" in capsys.readouterr().err
