"""Labelled objects -> a semantic label map and per-instance records (COCO RLE), one mask at a time.

Overlaps: where masks overlap, the pixel takes the class of the **smallest** mask covering it
(ties: the lower object index), so a small object on a large one (a ship in a harbor, a car on a
parking lot) stays visible in the semantic map. The rule depends only on the masks, never on the
order they arrive in. Instance records keep each object's whole mask (COCO allows overlaps).

Empty masks (SAM found nothing for the prompt) are not recorded: they are counted in
:attr:`LabelMapBuilder.dropped` under ``"empty mask"``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from samrs_hf import geometry
from samrs_hf.classes import IGNORE_INDEX

if TYPE_CHECKING:
    from samrs_hf.labeling.labeler import LabeledObject
    from samrs_hf.labeling.mask_window import MaskWindow

__all__ = ["InstanceRecord", "LabelMapBuilder"]


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


class LabelMapBuilder:
    """Accumulates one image's labelled objects into a semantic map and instance records.

    ``classes`` are the label names in semantic-map order (at most 255: 255 means "not covered");
    ``rename`` maps an object's source category to one of them (e.g. DIOR's ``Expressway-toll-station``
    to SAMRS's ``expressway-toll-station``).
    """

    def __init__(self, height: int, width: int, classes: Sequence[str], rename: Callable[[str], str] = str):
        if not 0 < len(classes) <= IGNORE_INDEX:
            raise ValueError(f"a label map holds 1..{IGNORE_INDEX} classes, got {len(classes)}")
        self.height, self.width = height, width
        self.classes, self.rename = tuple(classes), rename
        self._class_index = {name: index for index, name in enumerate(self.classes)}
        self._semantic = np.full((height, width), IGNORE_INDEX, dtype=np.uint8)
        self._owner = np.full((height, width), np.iinfo(np.int64).max, dtype=np.int64)  # see _paint
        self.records: list[InstanceRecord] = []
        self.dropped: Counter = Counter()

    def category(self, source_name: str) -> tuple[int, str]:
        """``(label index, label name)`` of a source category; unknown names raise ``KeyError``."""
        name = self.rename(source_name)
        if name not in self._class_index:
            raise KeyError(f"class {source_name!r} ({name!r}) is not one of the {len(self.classes)} label classes")
        return self._class_index[name], name

    def add(self, labeled: LabeledObject) -> InstanceRecord | None:
        """Add one labelled object; returns its record, or ``None`` when its mask is empty (counted in ``dropped``).

        The work is done inside the mask's window: painting, the area and the RLE cost what the mask
        covers, not the image.
        """
        window, obj = labeled.window, labeled.object
        if tuple(labeled.image_size) != (self.height, self.width):
            raise ValueError(
                f"object {labeled.index}: mask of an image of {labeled.image_size} != ({self.height}, {self.width})"
            )
        category_index, category = self.category(obj.category)
        area = 0 if window is None else window.area
        if area == 0:
            self.dropped["empty mask"] += 1
            return None
        self._paint(labeled.index, window, category_index, area)
        record = InstanceRecord(
            index=labeled.index,
            category=category,
            category_index=category_index,
            bbox=[float(v) for v in geometry.hbox_xyxy_to_xywh(obj.hbox)],
            rbox=None if obj.rbox is None else [float(v) for v in obj.rbox],
            segmentation=window.rle(),
            area=area,
            score=float(labeled.score),
            prompt_box=[float(v) for v in labeled.prompt_box],
        )
        self.records.append(record)
        return record

    def add_all(self, labeled: Iterable[LabeledObject]) -> LabelMapBuilder:
        """:meth:`add` each labelled object; returns ``self``."""
        for item in labeled:
            self.add(item)
        return self

    def _paint(self, index: int, window: MaskWindow, category_index: int, area: int) -> None:
        """Take the pixels of the mask held by a larger mask (or an equal one with a higher index).

        Each pixel keeps its owner's ``(area, index)`` as one int64 key, ``area * 2**32 + index``,
        which orders like the pair (an area is below ``2**31``, an index below ``2**32``).
        """
        if not (0 <= index < 2**32 and area < 2**31):
            raise ValueError(f"object {index}: index or mask area ({area} px) too large for a label map")
        where = window.slices
        owner = self._owner[where]
        key = area * 2**32 + index
        wins = window.crop & (key < owner)
        owner[wins] = key
        self._semantic[where][wins] = category_index

    def semantic_map(self) -> np.ndarray:
        """``uint8 (H, W)`` class index per pixel, 255 where no mask covers it."""
        return self._semantic.copy()
