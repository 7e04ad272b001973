"""SAMRS dataset folders for tests, written the one way the library writes them (SubsetWriter).

Two kinds of rows:

* :func:`overlap_row`: a large square (class 1) with a small square (class 3) painted over it,
  with real RLEs and a semantic map that agrees with them (hub, COCO, stats, viz tests);
* :func:`learnable_row`: an image whose colour follows a blocky label map, with an unlabelled
  band and no objects (training tests).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
from masks_and_boxes import encode_rle
from PIL import Image

from samrs_hf.dataset.schema import image_bytes
from samrs_hf.dataset.subsets import SUBSETS
from samrs_hf.dataset.writer import SubsetWriter

TINY_SIZES = {"sota": {"train": 4, "validation": 2}, "sior": {"train": 2, "validation": 2}, "fast": {"train": 6}}
"""Rows per config and split for training tests: unequal subset sizes, and FAST without a validation split."""


def samrs_object(mask: np.ndarray, category: int, box: list[float], score: float = 0.9) -> dict:
    """One instance of a row: ``mask``'s RLE and area under the prompt ``box`` ``[x0, y0, x1, y1]``."""
    return {
        "category": category,
        "bbox": [box[0], box[1], box[2] - box[0], box[3] - box[1]],
        "rbox": None,
        "segmentation": encode_rle(mask),
        "area": int(mask.sum()),
        "score": score,
        "prompt_box": box,
    }


def samrs_row(image_id: str, image: np.ndarray, semantic: np.ndarray, objects: list[dict], source: str) -> dict:
    """A row of the SAMRS schema from its pixels and :func:`samrs_object` instances."""
    height, width = semantic.shape
    return {
        "image_id": image_id,
        "image": image_bytes(Image.fromarray(image)),
        "semantic_map": image_bytes(Image.fromarray(semantic)),
        "objects": objects,
        "width": width,
        "height": height,
        "source": source,
        "tile": [0, 0],
    }


def _row(index: int, image: np.ndarray, semantic: np.ndarray, objects: list[dict]) -> dict:
    width = semantic.shape[1]
    return samrs_row(f"S{index}__{width}__0___0", image, semantic, objects, f"images/S{index}.png")


def overlap_row(index: int, num_classes: int = 18, size: int = 64) -> dict:
    """Row ``index``: squares of class 1 (32x32) and 3 (8 x (8 + index) pixels: below 100 for small indices)."""
    image = np.random.default_rng(index).integers(0, 255, (size, size, 3), dtype=np.uint8)
    big = np.zeros((size, size), bool)
    big[8:40, 8:40] = True
    small = np.zeros((size, size), bool)
    small[30 : 30 + 8 + index, 30:38] = True
    semantic = np.full((size, size), 255, np.uint8)
    semantic[big], semantic[small] = 1, 3
    objects = [samrs_object(big, 1, [8, 8, 40, 40]), samrs_object(small, 3, [30, 30, 38, 38 + index])]
    return _row(index, image, semantic, objects)


def learnable_row(index: int, num_classes: int, size: int = 64) -> dict:
    """Row ``index``: colour follows a 4x4 block label map (learnable); the left eighth is unlabelled (255)."""
    rng = np.random.default_rng(index)
    label = np.kron(rng.integers(0, num_classes, (4, 4)), np.ones((size // 4, size // 4), dtype=np.int64))
    label[:, : size // 8] = 255
    palette = rng.integers(0, 256, (256, 3))
    image = np.clip(palette[label] + rng.normal(0, 8, (size, size, 3)), 0, 255).astype(np.uint8)
    return _row(index, image, label.astype(np.uint8), [])


def write_samrs(
    root: Path,
    rows: dict[str, dict[str, int]],
    make_row: Callable[[int, int], dict] = overlap_row,
    rows_per_shard: int = 2,
) -> Path:
    """Write ``rows[config][split]`` rows made by ``make_row(index, num_classes)`` through the library's
    :class:`~samrs_hf.dataset.writer.SubsetWriter` (shards, then the card); returns ``root``."""
    for config, splits in rows.items():
        recipe = SUBSETS[config]
        writer = SubsetWriter(root, recipe, rows_per_shard=rows_per_shard)
        writer.prepare({})
        with writer.open() as put:
            for split, count in splits.items():
                for index in range(count):
                    put(split, partial(make_row, index, len(recipe.classes)))
        writer.finish()
    return root
