"""Hostile images through ``samrs build`` and ``samrs import-release`` in child processes with a memory cap
(tests/isolated.py): decompression bombs (from the header, and one under the limit that cannot fit in memory),
metadata and tile bombs, 16-bit and float samples. Each run ends with exit 0 or 1, one line per bad file, and
no traceback or signal."""

from __future__ import annotations

import numpy as np
import pytest
from datasets import load_dataset
from hostile_images import bomb_png, rotated_jpeg, text_bomb_pngs, tiff_tile_bomb, wide_sample_files
from isolated import assert_clean_exit, assert_one_line_error, run_samrs
from release_folders import SEGS, Shape, write_release

pytestmark = pytest.mark.slow

DIOR_XML = """<annotation><size><width>{width}</width><height>{height}</height><depth>3</depth></size>
<object><name>ship</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>6</xmax><ymax>6</ymax></bndbox></object>
</annotation>"""


def _hostile_dior(root, files: dict[str, tuple[bytes, tuple[int, int]]]):
    """A flat DIOR root: ``files[NAME.ext] = (bytes, annotated size)``, one small ship each."""
    images, xmls = root / "JPEGImages-trainval", root / "Annotations"
    images.mkdir(parents=True), xmls.mkdir()
    for name, (data, (width, height)) in files.items():
        (images / name).write_bytes(data)
        (xmls / f"{name.split('.')[0]}.xml").write_text(DIOR_XML.format(width=width, height=height))
    return root


def _photo() -> bytes:
    """A 120x160 (shown) photo, stored turned with EXIF orientation 6."""
    return rotated_jpeg(np.full((120, 160, 3), 128, np.uint8))


def _build(root, out, model, *extra):
    return run_samrs("build", "sior", "--root", root, "--out", out, "--model", model, "--split", "all", *extra)


def test_build_skips_and_names_every_hostile_image(tmp_path, tiny_sam_dir):
    wide = wide_sample_files()
    bad = {
        "00002.png": (bomb_png(100_000), (100_000, 100_000)),  # refused from its header
        "00003.png": (bomb_png(30_000), (30_000, 30_000)),  # under the limit: 2.7 GB, over the child's memory
        "00004.tif": (wide["gray16.tif"], (12, 8)),
        "00005.tif": (wide["float.tif"], (12, 8)),
        "00006.png": (wide["rgb16.png"], (12, 8)),
        "00007.tif": (tiff_tile_bomb(), (64, 64)),
        "00008.png": (text_bomb_pngs()["ztxt_many"], (8, 8)),
    }
    root = _hostile_dior(tmp_path / "dior", {"00001.jpg": (_photo(), (120, 160))} | bad)
    result = _build(root, tmp_path / "samrs", tiny_sam_dir, "--skip-bad")
    assert_clean_exit(result)
    assert result.returncode == 0 and f"skipped (--skip-bad), unreadable_image: {len(bad)}" in result.stdout
    for name, reason in zip(bad, ["over the limit of 1,073,741,824 px", "not enough memory", "16-bit integer",
                                  "32-bit float", "16-bit integer", "decoder error", "text chunks"]):  # fmt: skip
        assert f"{name}: cannot read image: " in result.stdout and reason in result.stdout, (name, reason)
    (row,) = load_dataset(str(tmp_path / "samrs"), "sior", split="train")
    assert row["image"].size == row["semantic_map"].size == (120, 160)


def test_a_lowered_pixel_limit_stops_the_build_in_one_line(tmp_path, tiny_sam_dir):
    root = _hostile_dior(tmp_path / "dior", {"00001.jpg": (_photo(), (120, 160))})
    result = _build(root, tmp_path / "samrs", tiny_sam_dir, "--max-image-pixels", "10000")
    assert_one_line_error(result, "00001.jpg: cannot read image: 160x120 = 19,200 px", "--max-image-pixels N")


def test_import_skips_and_names_hostile_images_and_maps(tmp_path):
    names = [f"{number:05d}" for number in range(1, 7)]
    tiles = {"train.txt": {name: [Shape(13, box=(8, 6, 40, 30))] for name in names}, "valid.txt": {}}
    root = write_release(tmp_path / "dior", "sior", tiles)
    images, gray = root / "JPEGImages-trainval", root / SEGS["sior"] / "gray"
    (images / "00001.jpg").write_bytes(rotated_jpeg(np.zeros((64, 48, 3), np.uint8)))  # shown 48x64: its map's frame
    (images / "00002.jpg").unlink()
    (images / "00002.png").write_bytes(bomb_png(100_000))
    (images / "00003.jpg").unlink()
    (images / "00003.tif").write_bytes(wide_sample_files(64, 48)["float.tif"])
    (gray / "00004.png").write_bytes(bomb_png(40_000))
    (gray / "00005.png").write_bytes(text_bomb_pngs()["iccp"])
    result = run_samrs("import-release", "sior", "--root", root, "--out", tmp_path / "samrs", "--skip-bad")
    assert_clean_exit(result)
    assert result.returncode == 0, result.stderr[-2000:]
    skipped = {"unreadable_image": 2, "bad_semantic_map": 2}
    for reason, count in skipped.items():
        assert f"skipped (--skip-bad), {reason}: {count}" in result.stdout, result.stdout
    for name, says in [("00002.png", "100000x100000"), ("00003.tif", "32-bit float"), ("00004.png", "40000x40000"),
                       ("00005.png", "MAX_TEXT_CHUNK")]:  # fmt: skip
        assert f"{name}: cannot read image: " in result.stdout and says in result.stdout, (name, says)
    rows = load_dataset(str(tmp_path / "samrs"), "sior", split="train")
    assert rows["image_id"] == ["00001", "00006"]
    assert rows[0]["image"].size == rows[0]["semantic_map"].size == (64, 48)
