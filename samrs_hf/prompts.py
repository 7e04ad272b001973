"""SAM prompts from detection boxes: the SAMRS paper's six prompt kinds and their combinations.

Kinds (Sec. 2.3 of the paper): ``cp`` (one foreground point at the object's center), ``hbox``
(the horizontal box), ``rhbox`` (the smallest horizontal box around the rotated box) and the
mask prompts ``hbox_m``, ``rhbox_m``, ``rbox_m`` (SAM's 256x256 low-resolution mask input, +1000
inside the region and -1000 outside, in SAM's resized and padded frame). A spec joins kinds with
``+``: at most one box kind and one mask kind, ``cp`` with either (``"cp+rhbox+rhbox_m"``).

:func:`build_prompts` turns a list of objects into :class:`SamPrompts`, whose :meth:`SamPrompts.chunk`
gives the model inputs for a slice of objects, so mask inputs exist only one chunk at a time.
Point and box coordinates are mapped into SAM's frame by ``SamProcessor`` itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from transformers import SamImageProcessorPil, SamProcessor

from samrs_hf import geometry
from samrs_hf.sources.base import SourceObject

__all__ = ["KINDS", "PromptSpec", "SamPrompts", "build_prompts", "mask_prompt"]

POINT_KINDS = ("cp",)
BOX_KINDS = ("hbox", "rhbox")
MASK_KINDS = ("hbox_m", "rbox_m", "rhbox_m")
KINDS = POINT_KINDS + BOX_KINDS + MASK_KINDS
MASK_INSIDE, MASK_OUTSIDE = 1000.0, -1000.0


@dataclass(frozen=True)
class PromptSpec:
    """Which prompts SAM gets per object: a center point, a box kind and/or a mask kind."""

    point: bool = False
    box: str | None = None
    mask: str | None = None

    @classmethod
    def parse(cls, text: str | PromptSpec) -> PromptSpec:
        """Parse ``"cp+rhbox+rhbox_m"``-style text (order and case do not matter)."""
        if isinstance(text, PromptSpec):
            return text
        kinds = [k.strip().lower() for k in str(text).split("+")]
        unknown = [k for k in kinds if k not in KINDS]
        if unknown or not kinds:
            raise ValueError(
                f"unknown prompt kind(s) {unknown} in {text!r}; valid kinds: {', '.join(KINDS)}"
            )
        if len(set(kinds)) != len(kinds):
            raise ValueError(f"prompt {text!r} repeats a kind")
        boxes = [k for k in kinds if k in BOX_KINDS]
        masks = [k for k in kinds if k in MASK_KINDS]
        if len(boxes) > 1 or len(masks) > 1:
            raise ValueError(
                f"prompt {text!r} has more than one box kind {BOX_KINDS} or mask kind {MASK_KINDS}"
            )
        return cls(
            point="cp" in kinds,
            box=boxes[0] if boxes else None,
            mask=masks[0] if masks else None,
        )

    @property
    def kinds(self) -> tuple[str, ...]:
        return (("cp",) if self.point else ()) + tuple(
            k for k in (self.box, self.mask) if k
        )

    @property
    def needs_rbox(self) -> bool:
        """Whether the prompt uses rotated boxes (``rhbox``, ``rhbox_m``, ``rbox_m``)."""
        return self.box == "rhbox" or self.mask in ("rhbox_m", "rbox_m")

    def __str__(self) -> str:
        return "+".join(self.kinds)


@lru_cache(maxsize=1)
def default_processor() -> SamProcessor:
    """SAM's standard processor (longest side 1024, padded to 1024x1024, 256x256 mask inputs)."""
    return SamProcessor(image_processor=SamImageProcessorPil())


def mask_prompt(
    region: np.ndarray, processor: SamProcessor | None = None
) -> torch.Tensor:
    """SAM's low-res mask input for a boolean region at the original resolution (official SAMRS recipe).

    +1000 inside, -1000 outside; bilinear resize so the longest side is 1024; pad bottom/right with
    -1000 to 1024x1024; bilinear resize to 256x256. Returns a ``(1, 256, 256)`` float32 tensor.
    """
    processor = processor or default_processor()
    image_processor = processor.image_processor
    resized = image_processor._get_preprocess_shape(region.shape, processor.target_size)
    pad = image_processor.pad_size
    low_res = image_processor.mask_pad_size
    logits = torch.from_numpy(
        np.where(region, MASK_INSIDE, MASK_OUTSIDE).astype(np.float32)
    )[None, None]
    logits = F.interpolate(logits, resized, mode="bilinear", align_corners=False)
    logits = F.pad(
        logits,
        (0, pad["width"] - resized[1], 0, pad["height"] - resized[0]),
        value=MASK_OUTSIDE,
    )
    logits = F.interpolate(
        logits,
        (low_res["height"], low_res["width"]),
        mode="bilinear",
        align_corners=False,
    )
    return logits[0]


def _require_rbox(obj: SourceObject, index: int, spec: PromptSpec) -> np.ndarray:
    if obj.rbox is None:
        raise ValueError(
            f"object {index} ({obj.category}) has no rotated box, but prompt '{spec}' needs one; "
            "use 'hbox'/'hbox_m'/'cp' for sources without rotated boxes"
        )
    return np.asarray(obj.rbox, dtype=np.float64)


@dataclass
class SamPrompts:
    """Per-object prompts for one image, in original pixel coordinates.

    ``points`` ``(N, 2)`` (``cp``), ``boxes`` ``(N, 4)`` (the box kind) and ``regions`` (per object an
    ``("hbox", xyxy)`` or ``("polygon", (K, 2))`` mask region) are set for the kinds in ``spec``.
    ``prompt_boxes`` ``(N, 4)`` is the horizontal box each prompt came from (recorded with the masks).
    """

    spec: PromptSpec
    image_size: tuple[int, int]
    prompt_boxes: np.ndarray
    points: np.ndarray | None = None
    boxes: np.ndarray | None = None
    regions: list[tuple[str, np.ndarray]] | None = None
    processor: SamProcessor | None = None

    def __len__(self) -> int:
        return len(self.prompt_boxes)

    def chunk(self, start: int, stop: int) -> dict[str, torch.Tensor]:
        """``SamModel`` inputs for objects ``start:stop``, one object per batch row.

        Keys among ``input_points`` ``(n, 1, 1, 2)``, ``input_labels`` ``(n, 1, 1)``, ``input_boxes``
        ``(n, 1, 4)`` (SAM frame, as ``SamProcessor`` makes them) and ``input_masks`` ``(n, 1, 256, 256)``.
        """
        processor = self.processor or default_processor()
        sl = slice(start, min(stop, len(self)))
        points = (
            None if self.points is None else [[p] for p in self.points[sl].tolist()]
        )
        labels = None if points is None else [[1] for _ in points]
        boxes = None if self.boxes is None else [[b] for b in self.boxes[sl].tolist()]
        points, labels, boxes = processor._check_and_preprocess_points(
            points, labels, boxes
        )
        inputs = processor._normalize_and_convert(
            {},
            [self.image_size],
            input_points=points,
            input_labels=labels,
            input_boxes=boxes,
            return_tensors="pt",
        )
        if self.regions is not None:
            h, w = self.image_size
            masks = [
                mask_prompt(_rasterize(region, h, w), processor)
                for region in self.regions[sl]
            ]
            inputs["input_masks"] = torch.stack(masks)
        return inputs


def _rasterize(region: tuple[str, np.ndarray], height: int, width: int) -> np.ndarray:
    kind, shape = region
    if kind == "hbox":
        return geometry.rasterize_hbox(shape, height, width)
    return geometry.rasterize_polygon(shape, height, width)


def build_prompts(
    spec: str | PromptSpec,
    objects: Sequence[SourceObject],
    image_size: tuple[int, int],
    processor: SamProcessor | None = None,
) -> SamPrompts:
    """Prompts of kind ``spec`` for ``objects`` of an image of ``image_size = (height, width)``.

    ``cp`` is the rotated box's center when the object has one, else the horizontal box's center.
    ``processor`` (default: SAM's standard one) maps coordinates into the model's frame.
    """
    spec = PromptSpec.parse(spec)
    rboxes = [
        _require_rbox(o, i, spec) if spec.needs_rbox else None
        for i, o in enumerate(objects)
    ]
    hboxes = [np.asarray(o.hbox, dtype=np.float64) for o in objects]
    rhboxes = [geometry.rbox_to_rhbox(r) if r is not None else None for r in rboxes]

    def stack(rows: list[np.ndarray], cols: int) -> np.ndarray:
        return np.asarray(rows, dtype=np.float64).reshape(len(rows), cols)

    points = boxes = regions = None
    if spec.point:
        points = stack([_center(o) for o in objects], 2)
    if spec.box:
        boxes = stack(rhboxes if spec.box == "rhbox" else hboxes, 4)
    if spec.mask == "hbox_m":
        regions = [("hbox", b) for b in hboxes]
    elif spec.mask == "rhbox_m":
        regions = [("hbox", b) for b in rhboxes]
    elif spec.mask == "rbox_m":
        regions = [("polygon", geometry.rbox_to_polygon(r)) for r in rboxes]
    uses_rotated = spec.box == "rhbox" or (spec.box is None and spec.needs_rbox)
    prompt_boxes = stack(rhboxes if uses_rotated else hboxes, 4)
    return SamPrompts(
        spec, tuple(image_size), prompt_boxes, points, boxes, regions, processor
    )


def _center(obj: SourceObject) -> np.ndarray:
    if obj.rbox is not None:
        return np.asarray(obj.rbox, dtype=np.float64)[:2]
    return geometry.hbox_center(obj.hbox)
