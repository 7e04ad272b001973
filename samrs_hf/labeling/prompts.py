"""SAM prompts from detection boxes: the SAMRS paper's six prompt kinds and their combinations.

Kinds (Sec. 2.3 of the paper): ``cp`` (one foreground point at the object's center), ``hbox``
(the horizontal box), ``rhbox`` (the smallest horizontal box around the rotated box) and the
mask prompts ``hbox_m``, ``rhbox_m``, ``rbox_m`` (SAM's 256x256 low-resolution mask input, +1000
inside the region and -1000 outside, in SAM's resized and padded frame). A spec joins kinds with
``+``: at most one box kind and one mask kind, ``cp`` with either (``"cp+rhbox+rhbox_m"``).

:func:`build_prompts` turns a list of objects into :class:`SamPrompts`, whose :meth:`SamPrompts.chunk`
gives the model inputs for a slice of objects, so mask inputs exist only one chunk at a time.
Coordinates are mapped into the model's input by :class:`~samrs_hf.labeling.sam_frame.SamFrame`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from samrs_hf import geometry
from samrs_hf.labeling.sam_frame import SamFrame
from samrs_hf.records import SourceObject

__all__ = ["KINDS", "PromptSpec", "SamPrompts", "build_prompts", "mask_prompt"]

POINT_KINDS = ("cp",)
BOX_KINDS = ("hbox", "rhbox")
MASK_KINDS = ("hbox_m", "rbox_m", "rhbox_m")
KINDS = POINT_KINDS + BOX_KINDS + MASK_KINDS
MASK_INSIDE, MASK_OUTSIDE = 1000.0, -1000.0
SAM_FRAME = SamFrame()
"""SAM's standard frame (longest side 1024, padded to 1024x1024, 256x256 masks)."""


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
            raise ValueError(f"unknown prompt kind(s) {unknown} in {text!r}; valid kinds: {', '.join(KINDS)}")
        if len(set(kinds)) != len(kinds):
            raise ValueError(f"prompt {text!r} repeats a kind")
        boxes = [k for k in kinds if k in BOX_KINDS]
        masks = [k for k in kinds if k in MASK_KINDS]
        if len(boxes) > 1 or len(masks) > 1:
            raise ValueError(f"prompt {text!r} has more than one box kind {BOX_KINDS} or mask kind {MASK_KINDS}")
        return cls(
            point="cp" in kinds,
            box=boxes[0] if boxes else None,
            mask=masks[0] if masks else None,
        )

    @property
    def kinds(self) -> tuple[str, ...]:
        return (("cp",) if self.point else ()) + tuple(k for k in (self.box, self.mask) if k)

    @property
    def needs_rbox(self) -> bool:
        """Whether the prompt uses rotated boxes (``rhbox``, ``rhbox_m``, ``rbox_m``)."""
        return self.box == "rhbox" or self.mask in ("rhbox_m", "rbox_m")

    def __str__(self) -> str:
        return "+".join(self.kinds)


def mask_prompt(region: np.ndarray, frame: SamFrame = SAM_FRAME) -> torch.Tensor:
    """SAM's low-res mask input for a boolean region at the original resolution (official SAMRS recipe).

    +1000 inside, -1000 outside; bilinear resize so the longest side is 1024; pad bottom/right with
    -1000 to 1024x1024; bilinear resize to 256x256. Returns a ``(1, 256, 256)`` float32 tensor.
    """
    logits = np.where(region, MASK_INSIDE, MASK_OUTSIDE).astype(np.float32)
    return frame.mask_prompt(logits, pad_value=MASK_OUTSIDE)


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
    ``frame`` maps them into the model's input.
    """

    spec: PromptSpec
    image_size: tuple[int, int]
    prompt_boxes: np.ndarray
    points: np.ndarray | None = None
    boxes: np.ndarray | None = None
    regions: list[tuple[str, np.ndarray]] | None = None
    frame: SamFrame = SAM_FRAME

    def __len__(self) -> int:
        return len(self.prompt_boxes)

    def chunk(self, start: int, stop: int) -> dict[str, torch.Tensor]:
        """``SamModel`` inputs for objects ``start:stop``, one object per batch row, in the model frame.

        Keys among ``input_points`` ``(n, 1, 1, 2)`` and ``input_boxes`` ``(n, 1, 4)`` (float64, as
        ``SamProcessor`` makes them), ``input_labels`` ``(n, 1, 1)`` and ``input_masks`` ``(n, 1, 256, 256)``.
        """
        sl = slice(start, min(stop, len(self)))
        inputs = {}
        if self.points is not None:
            points = self.frame.points(self.points[sl], self.image_size)
            inputs["input_points"] = torch.from_numpy(points)[:, None, None]
            inputs["input_labels"] = torch.ones(len(points), 1, 1, dtype=torch.int64)
        if self.boxes is not None:
            inputs["input_boxes"] = torch.from_numpy(self.frame.boxes(self.boxes[sl], self.image_size))[:, None]
        if self.regions is not None:
            h, w = self.image_size
            masks = [mask_prompt(_rasterize(region, h, w), self.frame) for region in self.regions[sl]]
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
    frame: SamFrame = SAM_FRAME,
) -> SamPrompts:
    """Prompts of kind ``spec`` for ``objects`` of an image of ``image_size = (height, width)``.

    ``cp`` is the rotated box's center when the object has one, else the horizontal box's center.
    ``frame`` (default: SAM's standard one) maps coordinates into the model's input.
    """
    spec = PromptSpec.parse(spec)
    rboxes = [_require_rbox(o, i, spec) if spec.needs_rbox else None for i, o in enumerate(objects)]
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
    return SamPrompts(spec, tuple(image_size), prompt_boxes, points, boxes, regions, frame)


def _center(obj: SourceObject) -> np.ndarray:
    if obj.rbox is not None:
        return np.asarray(obj.rbox, dtype=np.float64)[:2]
    return geometry.hbox_center(obj.hbox)
