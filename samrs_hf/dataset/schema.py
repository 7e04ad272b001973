"""The dataset schema: ``datasets`` features of a SAMRS subset and the assembly of one row.

One row per image tile: ``image_id``, ``image`` (RGB), ``semantic_map`` (PNG, mode L, 255 = not
covered), ``objects`` (one struct per instance), ``width``, ``height``, ``source`` (the image file,
relative to the raw root) and ``tile`` (its origin in that file).
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import numpy as np
from datasets import ClassLabel, Features, Image, List, Value
from PIL import Image as PILImage

from samrs_hf.labeling.maps import InstanceRecord
from samrs_hf.labeling.tiling import Tile

__all__ = ["file_stem", "image_bytes", "samrs_features", "tile_file_name", "tile_row"]

IMAGE_COMPRESS_LEVEL = 1
"""zlib level of the tile images' PNGs. Aerial photographs barely compress past level 1: PIL's default
level 6 makes files a little smaller for several times the time (``benchmarks/png_levels.py``, figures in
``benchmarks/README.md``), which would make the writer thread, not SAM, the bottleneck of a GPU build.
Semantic maps (flat regions) keep the default level."""


_SAFE_NAME = re.compile(r"^[^/\\\x00]+$")
_SIGNATURES = {b"\x89PNG\r\n\x1a\n": ".png", b"\xff\xd8\xff": ".jpg"}


def samrs_features(classes: tuple[str, ...] | list[str]) -> Features:
    """The schema of a subset whose ``category`` ClassLabel has ``classes`` (its label order)."""
    return Features(
        {
            "image_id": Value("string"),
            "image": Image(),
            "semantic_map": Image(),
            "objects": List(
                {
                    "category": ClassLabel(names=list(classes)),
                    "bbox": List(Value("float32"), length=4),
                    "rbox": List(Value("float32"), length=5),
                    "segmentation": {"size": List(Value("int32"), length=2), "counts": Value("string")},
                    "area": Value("int64"),
                    "score": Value("float32"),
                    "prompt_box": List(Value("float32"), length=4),
                }
            ),
            "width": Value("int32"),
            "height": Value("int32"),
            "source": Value("string"),
            "tile": List(Value("int32"), length=2),
        }
    )


def file_stem(image_id: str, where: str) -> str:
    """``image_id`` when it can name files (no path separator, not ``.`` or ``..``); else a ``ValueError``
    naming ``where``: ids come from data files, which may be hostile."""
    if not _SAFE_NAME.match(image_id) or image_id in (".", ".."):
        raise ValueError(f"{where}: image_id {image_id!r} cannot be a file name")
    return image_id


def tile_file_name(image_id: str, image: bytes, where: str) -> str:
    """The file name of a row's tile: its :func:`file_stem` and the extension of the stored bytes (``.png``
    or ``.jpg``: rows store nothing else)."""
    for signature, suffix in _SIGNATURES.items():
        if image.startswith(signature):
            return file_stem(image_id, where) + suffix
    raise ValueError(f"{where}: the image of {image_id!r} is neither a PNG nor a JPEG")


def image_bytes(image: PILImage.Image, compress_level: int = 6) -> dict:
    """``{"bytes", "path"}`` for an Image feature: PNG bytes (zlib ``compress_level``), never a local path."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=compress_level)
    return {"bytes": buffer.getvalue(), "path": None}


def tile_row(
    tile: Tile,
    image: PILImage.Image,
    semantic: np.ndarray,
    records: list[InstanceRecord],
    root: Path,
    original: bytes | None,
) -> dict:
    """The row of a labelled tile (its semantic map and instance records); ``original`` is the image
    file's bytes when it is stored as is."""
    objects = [
        {
            "category": r.category_index,
            "bbox": list(r.bbox),
            "rbox": None if r.rbox is None else list(r.rbox),
            "segmentation": r.segmentation,
            "area": int(r.area),
            "score": float(r.score),
            "prompt_box": list(r.prompt_box),
        }
        for r in records
    ]
    return {
        "image_id": tile.image_id,
        "image": {"bytes": original, "path": None} if original else image_bytes(image, IMAGE_COMPRESS_LEVEL),
        "semantic_map": image_bytes(PILImage.fromarray(semantic)),
        "objects": objects,
        "width": tile.width,
        "height": tile.height,
        "source": Path(os.path.relpath(tile.scene.image_path, root)).as_posix(),
        "tile": [tile.x0, tile.y0],
    }
