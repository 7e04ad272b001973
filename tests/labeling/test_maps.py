"""Semantic maps and instance records from instance masks."""

from __future__ import annotations

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from samrs_hf.labeling.labeler import LabeledObject
from samrs_hf.labeling.maps import LabelMapBuilder
from samrs_hf.labeling.mask_window import MaskWindow
from samrs_hf.records import SourceObject

H, W = 40, 60


def box_mask(x0, y0, x1, y1) -> np.ndarray:
    mask = np.zeros((H, W), dtype=bool)
    mask[y0:y1, x0:x1] = True
    return mask


HARBOR = box_mask(5, 5, 55, 35)
SHIP = box_mask(20, 10, 30, 14)
CAR = box_mask(50, 30, 58, 38)  # overlaps the harbor's corner


CLASSES = ("harbor", "ship", "small-vehicle")


def labeled(index: int, mask: np.ndarray, category: str, score: float = 0.9) -> LabeledObject:
    """A labelled object whose annotated box is its mask's bounds."""
    ys, xs = np.nonzero(mask) if mask.any() else ([0], [0])
    hbox = np.array([min(xs), min(ys), max(xs) + 1, max(ys) + 1], dtype=float)
    window = MaskWindow.tight(mask, 0, 0, mask.shape)
    return LabeledObject(index, SourceObject(category, hbox), window, score, hbox + 0.5, mask.shape)


def build(order) -> LabelMapBuilder:
    builder = LabelMapBuilder(H, W, CLASSES)
    items = {0: (HARBOR, "harbor"), 1: (SHIP, "ship"), 2: (CAR, "small-vehicle")}
    for index in order:
        builder.add(labeled(index, *items[index]))
    return builder


@pytest.mark.parametrize("order", [(0, 1, 2), (2, 1, 0), (1, 0, 2)])
def test_small_object_on_large_survives_in_any_order(order):
    semantic = build(order).semantic_map()
    assert semantic.dtype == np.uint8 and semantic.shape == (H, W)
    assert (semantic[SHIP] == 1).all()
    assert (semantic[CAR] == 2).all()
    assert (semantic[HARBOR & ~SHIP & ~CAR] == 0).all()
    assert (semantic[~(HARBOR | SHIP | CAR)] == 255).all()
    assert np.array_equal(semantic, build((0, 1, 2)).semantic_map())


def test_semantic_map_agrees_with_rles():
    builder = build((0, 1, 2))
    semantic = builder.semantic_map()
    decoded = {}
    for record in builder.records:
        assert isinstance(record.segmentation["counts"], str) and record.segmentation["size"] == [H, W]
        rle = dict(record.segmentation, counts=record.segmentation["counts"].encode())
        decoded[record.index] = mask_utils.decode(rle).astype(bool)
        assert record.area == decoded[record.index].sum() == int(mask_utils.area(rle))
    assert np.array_equal(decoded[0], HARBOR) and np.array_equal(decoded[1], SHIP)
    covered = np.zeros((H, W), dtype=bool)
    for record in builder.records:
        covered |= decoded[record.index]
        # every pixel labelled with a class lies in a mask of that class
        assert (decoded[record.index] | (semantic != record.category_index)).all()
    assert np.array_equal(covered, semantic != 255)
    ship = next(r for r in builder.records if r.index == 1)
    assert ship.bbox == [20.0, 10.0, 10.0, 4.0] and ship.category == "ship" and ship.score == pytest.approx(0.9)


def test_records_carry_the_prompt_box_and_the_renamed_class():
    builder = LabelMapBuilder(H, W, ("expressway-toll-station", "ship"), rename=str.lower)
    record = builder.add(labeled(4, SHIP, "Expressway-toll-station"))
    assert (record.category, record.category_index, record.index) == ("expressway-toll-station", 0, 4)
    assert record.prompt_box == [20.5, 10.5, 30.5, 14.5] and record.bbox == [20.0, 10.0, 10.0, 4.0]
    assert (builder.semantic_map()[SHIP] == 0).all()


def test_empty_mask_is_dropped_with_reason():
    builder = LabelMapBuilder(H, W, CLASSES)
    assert builder.add(labeled(0, np.zeros((H, W), dtype=bool), "ship", 0.1)) is None
    assert builder.records == [] and builder.dropped == {"empty mask": 1}
    assert (builder.semantic_map() == 255).all()


def test_bad_category_and_shape_are_clear_errors():
    builder = LabelMapBuilder(H, W, CLASSES)
    with pytest.raises(KeyError, match=r"'plane'.*not one of the 3 label classes"):
        builder.add(labeled(7, SHIP, "plane"))
    with pytest.raises(ValueError, match="mask of an image of"):
        builder.add(labeled(7, SHIP[:10], "ship"))
    with pytest.raises(ValueError, match=r"1\.\.255 classes"):
        LabelMapBuilder(H, W, [str(i) for i in range(256)])
