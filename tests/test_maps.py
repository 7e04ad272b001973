"""Semantic maps and instance records from instance masks."""

from __future__ import annotations

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from samrs_hf.maps import LabelMapBuilder

H, W = 40, 60


def box_mask(x0, y0, x1, y1) -> np.ndarray:
    mask = np.zeros((H, W), dtype=bool)
    mask[y0:y1, x0:x1] = True
    return mask


HARBOR = box_mask(5, 5, 55, 35)
SHIP = box_mask(20, 10, 30, 14)
CAR = box_mask(50, 30, 58, 38)  # overlaps the harbor's corner


def build(order) -> LabelMapBuilder:
    builder = LabelMapBuilder(H, W, num_classes=3)
    items = {
        0: (HARBOR, 0, "harbor"),
        1: (SHIP, 1, "ship"),
        2: (CAR, 2, "small-vehicle"),
    }
    for index in order:
        mask, cls, name = items[index]
        ys, xs = np.nonzero(mask)
        builder.add(
            index,
            mask,
            cls,
            0.9,
            [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1],
            [0, 0, 1, 1],
            name,
        )
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
        assert isinstance(record.segmentation["counts"], str) and record.segmentation[
            "size"
        ] == [H, W]
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
    assert (
        ship.bbox == [20.0, 10.0, 10.0, 4.0]
        and ship.category == "ship"
        and ship.score == pytest.approx(0.9)
    )


def test_empty_mask_is_dropped_with_reason():
    builder = LabelMapBuilder(H, W)
    assert (
        builder.add(
            0, np.zeros((H, W), dtype=bool), 4, 0.1, [0, 0, 5, 5], [0, 0, 5, 5], "ship"
        )
        is None
    )
    assert builder.records == [] and builder.dropped == {"empty mask": 1}
    assert (builder.semantic_map() == 255).all()


def test_bad_category_and_shape_are_clear_errors():
    builder = LabelMapBuilder(H, W, num_classes=3)
    with pytest.raises(ValueError, match="category index 3 outside 0..2"):
        builder.add(7, SHIP, 3, 0.5, [0, 0, 1, 1], [0, 0, 1, 1], "ship")
    with pytest.raises(ValueError, match="mask shape"):
        builder.add(7, SHIP[:10], 1, 0.5, [0, 0, 1, 1], [0, 0, 1, 1], "ship")
    with pytest.raises(ValueError, match="num_classes"):
        LabelMapBuilder(H, W, num_classes=256)
