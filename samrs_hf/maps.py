"""Instance masks -> a semantic label map and per-instance records (COCO RLE), one mask at a time.

Overlaps: where masks overlap, the pixel takes the class of the **smallest** mask covering it
(ties: the lower object index), so a small object on a large one (a ship in a harbor, a car on a
parking lot) stays visible in the semantic map. The rule depends only on the masks, never on the
order they arrive in. Instance records keep each object's whole mask (COCO allows overlaps).

Empty masks (SAM found nothing for the prompt) are not recorded: they are counted in
:attr:`LabelMapBuilder.dropped` under ``"empty mask"``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
from pycocotools import mask as mask_utils

from samrs_hf import geometry
from samrs_hf.classes import IGNORE_INDEX

__all__ = ["InstanceRecord", "LabelMapBuilder", "encode_rle"]


@dataclass
class InstanceRecord:
    """One labelled instance: COCO-order ``bbox`` ``[x, y, w, h]`` and COCO RLE ``segmentation``."""

    index: int
    category: str
    category_index: int
    bbox: list[float]
    rbox: list[float] | None
    segmentation: dict
    area: int
    score: float
    prompt_box: list[float]


def encode_rle(mask: np.ndarray) -> dict:
    """COCO RLE ``{"size": [h, w], "counts": str}`` of a boolean mask (pycocotools)."""
    rle = mask_utils.encode(np.asfortranarray(mask, dtype=np.uint8))
    return {
        "size": [int(v) for v in rle["size"]],
        "counts": rle["counts"].decode("ascii"),
    }


class LabelMapBuilder:
    """Accumulates one image's instance masks into a semantic map and instance records.

    ``num_classes`` (optional) bounds the category indices; indices must in any case be below
    :data:`~samrs_hf.classes.IGNORE_INDEX` (255, "not covered").
    """

    def __init__(self, height: int, width: int, num_classes: int | None = None):
        self.height, self.width = height, width
        self.num_classes = IGNORE_INDEX if num_classes is None else num_classes
        if not 0 < self.num_classes <= IGNORE_INDEX:
            raise ValueError(
                f"num_classes must be in 1..{IGNORE_INDEX}, got {num_classes}"
            )
        self._semantic = np.full((height, width), IGNORE_INDEX, dtype=np.uint8)
        self._owner_area = np.full(
            (height, width), np.iinfo(np.int64).max, dtype=np.int64
        )
        self._owner_index = np.full(
            (height, width), np.iinfo(np.int64).max, dtype=np.int64
        )
        self.records: list[InstanceRecord] = []
        self.dropped: Counter = Counter()

    def add(
        self,
        index: int,
        mask: np.ndarray,
        category_index: int,
        score: float,
        bbox_xyxy,
        prompt_box,
        category: str = "",
        rbox=None,
    ) -> InstanceRecord | None:
        """Add object ``index``'s boolean mask; returns its record, or ``None`` when it is dropped."""
        if mask.shape != (self.height, self.width):
            raise ValueError(
                f"object {index}: mask shape {mask.shape} != image ({self.height}, {self.width})"
            )
        if not 0 <= category_index < self.num_classes:
            raise ValueError(
                f"object {index} ({category!r}): category index {category_index} outside 0..{self.num_classes - 1}"
            )
        mask = mask.astype(bool, copy=False)
        area = int(mask.sum())
        if area == 0:
            self.dropped["empty mask"] += 1
            return None
        self._paint(index, mask, category_index, area)
        record = InstanceRecord(
            index=index,
            category=category,
            category_index=int(category_index),
            bbox=[float(v) for v in geometry.hbox_xyxy_to_xywh(bbox_xyxy)],
            rbox=None if rbox is None else [float(v) for v in rbox],
            segmentation=encode_rle(mask),
            area=area,
            score=float(score),
            prompt_box=[float(v) for v in prompt_box],
        )
        self.records.append(record)
        return record

    def _paint(
        self, index: int, mask: np.ndarray, category_index: int, area: int
    ) -> None:
        """Take the pixels of ``mask`` held by a larger mask (or an equal one with a higher index)."""
        rows, cols = np.nonzero(mask)
        window = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
        owner_area, owner_index = self._owner_area[window], self._owner_index[window]
        wins = mask[window] & (
            (area < owner_area) | ((area == owner_area) & (index < owner_index))
        )
        owner_area[wins], owner_index[wins] = area, index
        self._semantic[window][wins] = category_index

    def semantic_map(self) -> np.ndarray:
        """``uint8 (H, W)`` class index per pixel, 255 where no mask covers it."""
        return self._semantic.copy()
