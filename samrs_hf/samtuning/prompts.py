"""Training prompts: the paper's prompt kinds from jittered boxes, as SAM was trained.

SAM's training jitters each box coordinate with Gaussian noise of standard deviation 10% of the box's side,
at most 20 pixels (Kirillov et al., 2023, appendix A). Here the horizontal box's corners, and the rotated
box's centre and sides, are jittered that way in the image's own pixels; every prompt kind (``cp``,
``hbox``, ``rhbox``, the mask prompts) is then built from the jittered object by
:func:`~samrs_hf.labeling.prompts.build_prompts`, exactly as labelling builds it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from samrs_hf.labeling.prompts import PromptSpec, build_prompts
from samrs_hf.labeling.sam_frame import SamFrame
from samrs_hf.records import SourceObject

__all__ = ["DEFAULT_PROMPTS", "JITTER_FRACTION", "JITTER_MAX_PX", "jitter_object", "sample_prompts"]

JITTER_FRACTION, JITTER_MAX_PX = 0.1, 20.0
DEFAULT_PROMPTS = ("hbox", "rhbox", "cp", "cp+hbox", "hbox_m", "rbox_m")
"""Every kind of the paper's Table 1 (a point, each box, a box and a rotated-box mask prompt, a combination)."""


def _noise(rng: np.random.Generator, side: float, count: int) -> np.ndarray:
    return rng.normal(0.0, min(JITTER_FRACTION * side, JITTER_MAX_PX), count)


def jitter_object(obj: SourceObject, rng: np.random.Generator) -> SourceObject:
    """``obj`` with its horizontal box corners and rotated box (centre, sides) jittered; sides stay >= 1 px."""
    x0, y0, x1, y1 = np.asarray(obj.hbox, dtype=np.float64)
    w, h = x1 - x0, y1 - y0
    dx, dy = _noise(rng, w, 2), _noise(rng, h, 2)
    hbox = np.array([x0 + dx[0], y0 + dy[0], x1 + dx[1], y1 + dy[1]])
    hbox[2:] = np.maximum(hbox[2:], hbox[:2] + 1)
    rbox = None
    if obj.rbox is not None:
        cx, cy, rw, rh, angle = np.asarray(obj.rbox, dtype=np.float64)
        sw, sh = _noise(rng, rw, 2), _noise(rng, rh, 2)
        rbox = np.array([cx + sw[0] / 2, cy + sh[0] / 2, max(rw + sw[1], 1.0), max(rh + sh[1], 1.0), angle])
    return SourceObject(obj.category, hbox, rbox=rbox)


def sample_prompts(
    objects: Sequence[SourceObject],
    size: tuple[int, int],
    frame: SamFrame,
    kinds: Sequence[PromptSpec],
    rng: np.random.Generator,
) -> tuple[PromptSpec, dict[str, torch.Tensor]]:
    """One prompt kind drawn from ``kinds`` (those the objects can serve: rotated kinds need rotated boxes) and
    the model inputs of the jittered ``objects`` for it."""
    rotated = all(obj.rbox is not None for obj in objects)
    usable = [k for k in kinds if rotated or not k.needs_rbox]
    if not usable:
        raise ValueError(f"prompts {', '.join(map(str, kinds))} all need rotated boxes, which these objects lack")
    spec = usable[rng.integers(len(usable))]
    jittered = [jitter_object(obj, rng) for obj in objects]
    prompts = build_prompts(spec, jittered, size, frame)
    return spec, prompts.chunk(0, len(prompts))
