"""Reference computations the tests compare the library against: a whole mask's COCO RLE, a box clipped to an image."""

from __future__ import annotations

import numpy as np
from pycocotools import mask as mask_utils


def encode_rle(mask: np.ndarray) -> dict:
    """COCO RLE ``{"size": [h, w], "counts": str}`` of a whole boolean mask (pycocotools)."""
    rle = mask_utils.encode(np.asfortranarray(mask, dtype=np.uint8))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def clip_hbox(hbox, width: int, height: int) -> np.ndarray:
    """A horizontal box ``[x0, y0, x1, y1]`` clipped to the image ``[0, width] x [0, height]``."""
    return np.clip(np.asarray(hbox, dtype=np.float64), 0, [width, height, width, height])
