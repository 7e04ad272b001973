"""Segmentation labels as a source of true masks: each connected region of a thing class is one object."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from samrs_hf.cli import main
from samrs_hf.samtuning.sources import MIN_REGION_PIXELS, RegionMasks, SegmentationMasks, open_mask_source
from samrs_hf.training.finetune_datasets import ISAID, POTSDAM, decode_label, find_scenes

SHIP, STORE_TANK, PLANE = 1, 2, 14


def _isaid_label() -> tuple[np.ndarray, list[tuple[int, tuple[slice, slice]]]]:
    """A 300x600 iSAID label: in the left 300x300 tile two ships, a plane touching one of them, a diagonal store
    tank and a speck; the right tile has background only. Returns it and the objects (class, slices) expected."""
    label = np.zeros((300, 600), dtype=np.uint8)
    expected = []
    for index, (rows, cols) in [
        (SHIP, (slice(10, 40), slice(20, 100))),
        (SHIP, (slice(60, 70), slice(20, 120))),
        (PLANE, (slice(70, 110), slice(50, 90))),  # touches the second ship: another class, another object
    ]:
        label[rows, cols] = index
        expected.append((index, (rows, cols)))
    yy, xx = np.mgrid[0:300, 0:300]
    tank = (np.abs((xx - 200) + (yy - 200)) < 20) & (np.abs((xx - 200) - (yy - 200)) < 60)
    label[:, :300][tank] = STORE_TANK
    expected.append((STORE_TANK, ndimage.find_objects(tank.astype(int))[0]))
    label[290:293, 290:293] = SHIP  # 9 pixels: a speck
    return label, expected


def _write_isaid(root: Path, label: np.ndarray) -> Path:
    palette = np.array(list(ISAID.colors), dtype=np.uint8)
    (root / "train" / "images").mkdir(parents=True)
    (root / "train" / "Semantic_masks" / "images").mkdir(parents=True)
    pixels = np.random.default_rng(0).integers(0, 255, (*label.shape, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(root / "train" / "images" / "P0001.png")
    Image.fromarray(palette[label]).save(root / "train" / "Semantic_masks" / "images" / "P0001_instance_color_RGB.png")
    return root


def test_regions_of_thing_classes_are_the_objects(tmp_path):
    label, expected = _isaid_label()
    source = SegmentationMasks("isaid", _write_isaid(tmp_path, label), "train", tile_size=300)
    assert len(source) == 1  # the background tile is left out
    image = source[0]
    assert image.image_id == "P0001__0_0" and image.image.size == (300, 300)
    found = sorted(zip(image.objects, image.masks), key=lambda pair: (pair[0].hbox[1], pair[0].hbox[0]))
    expected = sorted(expected, key=lambda item: (item[1][0].start, item[1][1].start))
    assert [obj.category for obj, _ in found] == [ISAID.classes[index] for index, _ in expected]
    for (obj, mask), (index, (rows, cols)) in zip(found, expected):
        assert mask.shape == (300, 300) and mask.dtype == bool
        assert np.array_equal(mask, (label[:, :300] == index) & _component_at(label[:, :300] == index, rows, cols))
        assert list(obj.hbox) == [cols.start, rows.start, cols.stop, rows.stop]
    ship = found[0][0]  # an axis-aligned region: its rotated box is its box
    cx, cy, w, h, angle = ship.rbox
    assert (cx, cy) == pytest.approx((60, 25)) and sorted([w, h]) == pytest.approx([30, 80])
    assert math.isclose(abs(math.sin(angle)), 0, abs_tol=1e-9) or math.isclose(abs(math.cos(angle)), 0, abs_tol=1e-9)
    tank = next(obj for obj, _ in found if obj.category == ISAID.classes[STORE_TANK])
    assert abs(abs(tank.rbox[4]) - math.pi / 4) < 0.05  # the diagonal tank's box follows it
    assert tank.rbox[2] * tank.rbox[3] < 0.7 * (tank.hbox[2] - tank.hbox[0]) * (tank.hbox[3] - tank.hbox[1])


def _component_at(mask: np.ndarray, rows: slice, cols: slice) -> np.ndarray:
    labelled, _ = ndimage.label(mask)
    return labelled == labelled[rows, cols].max()


def test_region_masks_are_made_when_asked_for():
    regions = np.zeros((4, 5), dtype=np.int32)
    regions[0, :2], regions[3, 4] = 1, 2
    masks = RegionMasks(regions, 2)
    assert len(masks) == 2 and masks[-1][3, 4] and masks[0].sum() == 2
    assert [m.sum() for m in masks[0:2]] == [2, 1]
    with pytest.raises(IndexError):
        masks[2]


def test_potsdam_fixture_buildings_and_cars(fixtures_dir):
    """The real Potsdam crop: the objects' masks are exactly the building and car pixels in regions big enough."""
    source = open_mask_source(f"potsdam:{fixtures_dir / 'potsdam'}", "--train", True)
    (scene,) = find_scenes(fixtures_dir / "potsdam", "train", POTSDAM)
    label = decode_label(scene.label, POTSDAM)
    assert len(source) == 1 and "potsdam" in source.description
    image = source[0]
    things = np.isin(label, POTSDAM.things)
    covered = np.zeros_like(things)
    for obj, mask in zip(image.objects, image.masks):
        assert obj.category in ("building", "car") and mask.sum() >= MIN_REGION_PIXELS
        assert not (covered & mask).any()
        covered |= mask
        ys, xs = np.nonzero(mask)
        assert list(obj.hbox) == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
        assert (label[mask] == POTSDAM.classes.index(obj.category)).all()
        assert ndimage.label(mask)[1] == 1
    assert image.objects and (covered <= things).all()
    specks = things & ~covered
    assert specks.sum() < MIN_REGION_PIXELS * max(1, ndimage.label(specks)[1])


def test_open_mask_source_names_the_flag(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"^--train potsdam:/nowhere: no such folder \(the potsdam dataset\)$"):
        open_mask_source("potsdam:/nowhere", "--train", True)
    with pytest.raises(FileNotFoundError, match=rf"^--eval isaid:{tmp_path}: {tmp_path}: no isaid layout found"):
        open_mask_source(f"isaid:{tmp_path}", "--eval", False)
    with pytest.raises(ValueError, match=r"or potsdam:DIR / isaid:DIR$"):
        open_mask_source("vaihingen:/x", "--train", True)


def test_train_sam_on_segmentation_regions(tmp_path, tiny_sam_dir, capfd):
    """One tuning step on iSAID-format regions, scored on them (the split named for evaluation)."""
    label, _ = _isaid_label()
    root = _write_isaid(tmp_path / "isaid", label)
    flags = {"--train": f"isaid:{root}", "--eval": f"isaid:{root}", "--eval-split": "train", "--max-steps": 1}
    flags |= {"--model": tiny_sam_dir, "--output-dir": tmp_path / "out", "--batch-size": 1, "--eval-limit": 1}
    assert main(["train-sam", *(str(v) for kv in flags.items() for v in kv)]) == 0
    assert "isaid" in (tmp_path / "out" / "README.md").read_text()
