"""MaskWindow: a mask kept as its window; its RLE against pycocotools over the whole mask."""

from __future__ import annotations

import numpy as np
from masks_and_boxes import encode_rle

from samrs_hf.labeling.mask_window import MaskWindow


def test_rle_from_a_window_is_pycocotools_rle_of_the_whole_mask():
    rng = np.random.default_rng(0)
    for _ in range(500):
        height, width = (int(v) for v in rng.integers(1, 40, 2))
        y0, x0 = int(rng.integers(0, height)), int(rng.integers(0, width))
        h, w = int(rng.integers(1, height - y0 + 1)), int(rng.integers(1, width - x0 + 1))
        crop = rng.random((h, w)) < rng.random() if rng.random() < 0.7 else np.ones((h, w), bool)
        window = MaskWindow(y0, x0, crop, (height, width))
        assert window.rle() == encode_rle(window.full()), (height, width, y0, x0, h, w)
