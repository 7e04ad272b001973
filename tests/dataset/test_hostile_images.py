"""Hostile images through ``samrs build`` and ``samrs import-release`` in child processes with a memory cap
(tests/isolated.py): decompression bombs (from the header, and one under the limit that cannot fit in memory),
metadata and tile bombs, 16-bit and float samples. Each run ends with exit 0 or 1, one line per bad file, and
no traceback or signal."""

from __future__ import annotations

import numpy as np
import pytest
from datasets import load_dataset
from hostile_images import bomb_png, rotated_jpeg, text_bomb_pngs, tiff_tile_bomb, wide_sample_files
from isolated import assert_clean_exit, run_samrs
from PIL import Image
from release_folders import SEGS, Shape, write_release

from samrs_hf.cli import main
from samrs_hf.records import DEFAULT_MAX_IMAGE_PIXELS, set_max_image_pixels

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


def _build(root, out, model, *extra) -> list[str]:
    return ["build", "sior", "--root", str(root), "--out", str(out), "--model", str(model), "--split", "all", *extra]


def _check_skipped(stdout: str, reasons: dict[str, str]) -> None:
    """The summary names each file ``reasons`` lists, on a line saying why."""
    for name, reason in reasons.items():
        (line,) = [line for line in stdout.splitlines() if f"{name}: cannot read image: " in line]
        assert reason in line, line


def test_build_skips_and_names_every_hostile_image(tmp_path, tiny_sam_dir):
    wide, over = wide_sample_files(), "px is over the limit of 1,000,000,000 px"
    bad = {  # NAME: (bytes, annotated size, why it is skipped)
        "00002.png": (bomb_png(100_000), (100_000, 100_000), f"100000x100000 = 10,000,000,000 {over}"),
        "00003.png": (bomb_png(32_000), (32_000, 32_000), f"32000x32000 = 1,024,000,000 {over}"),  # over the flag's
        "00004.png": (bomb_png(30_000), (30_000, 30_000), "not enough memory"),  # 2.7 GB: more than the child may take
        "00005.tif": (wide["gray16.tif"], (12, 8), "16-bit integer samples"),
        "00006.tif": (wide["float.tif"], (12, 8), "32-bit float samples"),
        "00007.png": (wide["rgb16.png"], (12, 8), "16-bit integer samples (mode RGB)"),
        "00008.tif": (tiff_tile_bomb(), (64, 64), "decoder error"),
        "00009.png": (text_bomb_pngs()["ztxt_many"], (8, 8), "Too much memory used in text chunks"),
    }
    files = {"00001.jpg": (_photo(), (120, 160))} | {name: (data, size) for name, (data, size, _) in bad.items()}
    root = _hostile_dior(tmp_path / "dior", files)
    result = run_samrs(
        *_build(root, tmp_path / "samrs", tiny_sam_dir, "--skip-bad", "--max-image-pixels", "1000000000")
    )
    assert_clean_exit(result)
    assert result.returncode == 0 and f"skipped (--skip-bad), unreadable_image: {len(bad)}" in result.stdout
    _check_skipped(result.stdout, {name: why for name, (_, _, why) in bad.items()})
    (row,) = load_dataset(str(tmp_path / "samrs"), "sior", split="train")
    assert row["image"].size == row["semantic_map"].size == (120, 160)


def test_an_image_over_the_limit_stops_the_build_in_one_line(tmp_path, tiny_sam_dir, capsys, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)  # the command sets it for its process
    root = _hostile_dior(tmp_path / "dior", {"00001.jpg": (_photo(), (120, 160))})
    try:
        assert main(_build(root, tmp_path / "samrs", tiny_sam_dir, "--max-image-pixels", "10000")) == 1
    finally:
        set_max_image_pixels(DEFAULT_MAX_IMAGE_PIXELS)
    (error,) = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert "00001.jpg: cannot read image: 160x120 = 19,200 px is over the limit of 10,000 px" in error
    assert "--max-image-pixels N (set_max_image_pixels in Python)" in error
    assert error.endswith("pass --skip-bad to skip it and go on")


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
    reasons = {"00002.png": "100000x100000", "00003.tif": "32-bit float", "00004.png": "40000x40000",
               "00005.png": "MAX_TEXT_CHUNK"}  # fmt: skip
    _check_skipped(result.stdout, reasons)
    rows = load_dataset(str(tmp_path / "samrs"), "sior", split="train")
    assert rows["image_id"] == ["00001", "00006"]
    assert rows[0]["image"].size == rows[0]["semantic_map"].size == (64, 48)
