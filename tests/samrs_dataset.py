"""A small hand-made SAMRS dataset folder (real RLEs, consistent semantic maps) for hub/COCO/stats tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils

from samrs_hf.hub import ShardWriter, image_bytes, samrs_features, write_card


def _object(mask: np.ndarray, category: int, box: list[float]) -> dict:
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {
        "category": category,
        "bbox": [box[0], box[1], box[2] - box[0], box[3] - box[1]],
        "rbox": None,
        "segmentation": {"size": list(rle["size"]), "counts": rle["counts"].decode("ascii")},
        "area": int(mask.sum()),
        "score": 0.9,
        "prompt_box": box,
    }


def make_row(index: int, size: int = 64) -> dict:
    """Row ``index``: a large square (class 1) with a small square (class 3) painted over it."""
    rng = np.random.default_rng(index)
    image = Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8))
    big = np.zeros((size, size), bool)
    big[8:40, 8:40] = True
    small = np.zeros((size, size), bool)
    small[30 : 30 + 8 + index, 30:38] = True  # 64 + 8 * index pixels: below 100 for small indices
    semantic = np.full((size, size), 255, np.uint8)
    semantic[big], semantic[small] = 1, 3
    return {
        "image_id": f"S{index}__{size}__0___0",
        "image": image_bytes(image),
        "semantic_map": image_bytes(Image.fromarray(semantic, mode="L")),
        "objects": [_object(big, 1, [8, 8, 40, 40]), _object(small, 3, [30, 30, 38, 38 + index])],
        "width": size,
        "height": size,
        "source": f"images/S{index}.png",
        "tile": [0, 0],
    }


def make_dataset(root: Path, subset: str = "sota", rows: int = 5, rows_per_shard: int = 2) -> Path:
    """Write ``rows`` rows of ``subset`` (train) to ``root/subset`` and the card; returns ``root``."""
    writer = ShardWriter(root / subset, "train", samrs_features(subset), rows_per_shard=rows_per_shard)
    for index in range(rows):
        writer.add(make_row(index))
    writer.flush()
    write_card(root)
    return root
