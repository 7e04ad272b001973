"""The release's instance dicts <-> the objects of SAMRS rows."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from samrs_hf import geometry
from samrs_hf.dataset.release.files import ReleaseFileError, clip, describe
from samrs_hf.dataset.release.format import MAX_INSTANCES, MAX_PKL_BYTES
from samrs_hf.dataset.subsets import SubsetRecipe

BOX_KEY = "box_xywh"
"""What ``samrs export-release`` adds to each instance (the release has no such key): the object's own
COCO box ``[x, y, w, h]``, float32 as the row stores it. It is not the prompt box when ``samrs build``
clipped the object at a tile edge (FAST's ``rhbox`` prompt surrounds the clipped object's rotated box),
and it keeps the row's float32 values exactly. The import takes ``bbox`` from it, else from the prompt box."""
MAX_CATEGORY_CHARS = 100


def max_counts_chars(height: int, width: int) -> int:
    """Bound of a ``height`` x ``width`` mask's RLE ``counts`` length: a run takes one character, and each
    further one needs a run (or the run two back) 16 times longer, so at most ~1.25 per pixel; 2 leaves room."""
    return 2 * height * width + 16


def _integer(value: object, where: str, key: str) -> int:
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return int(value)
    raise ReleaseFileError("bad_pkl", f"{where}: {key!r} is {describe(value)}, not an integer")


def _category(item: dict, where: str, recipe: SubsetRecipe) -> int:
    """Release index of an instance: by name (checked against ``label``), or the index of an early pkl."""
    category, label = item.get("category"), item.get("label")
    if isinstance(category, str) and len(category) <= MAX_CATEGORY_CHARS:
        name = category if category in recipe.classes else recipe.release_name(category)
        if name not in recipe.classes:
            raise ReleaseFileError("bad_pkl", f"{where}: category {category!r} is not a {recipe.name} class")
        index = recipe.classes.index(name)
    elif isinstance(category, (int, np.integer)) and not isinstance(category, (bool, np.bool_)):
        index = int(category)
        if not 0 <= index < len(recipe.classes):
            raise ReleaseFileError(
                "bad_pkl", f"{where}: category index {index} is outside 0..{len(recipe.classes) - 1} of {recipe.name}"
            )
    else:
        raise ReleaseFileError(
            "bad_pkl", f"{where}: category {describe(category)} is neither a class name nor an index"
        )
    if label is not None and _integer(label, where, "label") != index:
        raise ReleaseFileError(
            "bad_pkl", f"{where}: label {describe(label)} disagrees with category {describe(category)} (index {index})"
        )
    return index


def rle_area(counts: bytes, height: int, width: int) -> int:
    """The area of a COCO RLE, after checking what pycocotools does not: its characters, that no run
    is left unfinished or negative, and that the runs cover exactly ``height`` x ``width`` pixels (so
    decoding it never writes past its mask)."""
    codes = np.frombuffer(counts, dtype=np.uint8).astype(np.int64) - 48
    if not codes.size or ((codes < 0) | (codes > 63)).any():
        raise ValueError("RLE counts that are empty or hold characters outside COCO's alphabet ('0'..'o')")
    more = (codes & 0x20) != 0
    if more[-1]:
        raise ValueError("RLE counts end inside a run")
    ends = np.flatnonzero(~more)
    starts = np.concatenate(([0], ends[:-1] + 1))
    chunks = ends - starts + 1
    if chunks.max() > 6:  # pycocotools shifts each chunk within a C int: 6 chunks of 5 bits at most
        raise ValueError("an RLE run of more than 30 bits")
    position = np.arange(codes.size) - np.repeat(starts, chunks)
    values = np.add.reduceat((codes & 0x1F) << (5 * position), starts)
    values -= np.where(codes[ends] & 0x10, 1 << (5 * chunks), 0)  # the sign bit of each run's last chunk
    runs = values.copy()
    runs[3::2] = np.cumsum(values[1::2])[1:]  # pycocotools adds the run two back from the fourth run on
    runs[2::2] = np.cumsum(values[2::2])
    if (runs < 0).any() or runs.sum() != height * width:
        raise ValueError(f"RLE runs cover {int(runs.sum())} pixels, not the {height}x{width} of its size")
    return int(runs[1::2].sum())


def _segmentation(mask: object, where: str, height: int, width: int) -> tuple[dict, int]:
    """``(segmentation, area)`` of an instance's ``mask``: a COCO RLE of the image's size, checked."""
    if not (type(mask) is dict and "size" in mask and "counts" in mask):
        raise ReleaseFileError("bad_pkl", f"{where}: 'mask' is not a COCO RLE {{'size': [h, w], 'counts': str}}")
    size, counts = mask["size"], mask["counts"]
    if not (isinstance(size, (list, tuple, np.ndarray)) and len(size) == 2):
        raise ReleaseFileError("bad_pkl", f"{where}: mask size {describe(size)}, not [h, w]")
    size = [_integer(v, where, "mask size") for v in size]
    if size != [height, width]:
        raise ReleaseFileError("size_mismatch", f"{where}: mask size {size} but the image is [{height}, {width}]")
    if not isinstance(counts, (str, bytes)):
        raise ReleaseFileError("bad_pkl", f"{where}: RLE counts of type {type(counts).__name__}, not str or bytes")
    if len(counts) > max_counts_chars(height, width):
        raise ReleaseFileError("bad_pkl", f"{where}: RLE counts of {len(counts)} characters, too long for its size")
    try:
        data = counts.encode("ascii") if isinstance(counts, str) else counts
        area = rle_area(data, height, width)
    except (UnicodeEncodeError, ValueError) as error:
        raise ReleaseFileError("bad_pkl", f"{where}: {clip(str(error))}") from None
    return {"size": size, "counts": data.decode("ascii")}, area


def _box(value: object, where: str, key: str, count: int) -> np.ndarray:
    """``count`` finite numbers from an array of any shape, or a flat list or tuple."""
    if isinstance(value, np.ndarray) and value.dtype.kind in "iuf" and value.size == count:
        box = value.astype(np.float64).ravel()
    elif isinstance(value, (list, tuple)) and len(value) == count and all(_is_real(v) for v in value):
        box = np.array(value, dtype=np.float64)
    else:
        box = None
    if box is None or not np.isfinite(box).all():
        raise ReleaseFileError("bad_pkl", f"{where}: {key!r} is {describe(value)}, not {count} finite numbers")
    return box


def _is_real(value: object) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def release_objects(instances: object, path: Path, recipe: SubsetRecipe, height: int, width: int) -> list[dict]:
    """The ``objects`` of a row from a pkl's instance list (see the module docstring for the mapping).

    Any field of the wrong kind or beyond the bounds of a release record is a :class:`ReleaseFileError`
    naming the file and the instance. The RLEs together may hold at most
    :data:`~samrs_hf.dataset.release.format.MAX_PKL_BYTES` characters (they are all in the file; more
    means memo references repeat one).
    """
    if type(instances) is not list:
        raise ReleaseFileError("bad_pkl", f"{path}: holds {describe(instances)}, not a list of instance dicts")
    if len(instances) > MAX_INSTANCES:
        raise ReleaseFileError("bad_pkl", f"{path}: {len(instances)} instances, more than the {MAX_INSTANCES} allowed")
    objects, characters = [], 0
    for number, item in enumerate(instances):
        where = f"{path}, instance {number}"
        try:
            objects.append(_release_object(item, where, recipe, height, width))
        except ReleaseFileError:
            raise
        except (TypeError, ValueError, ArithmeticError) as error:  # a check missed: still one line, never a bug
            raise ReleaseFileError("bad_pkl", f"{where}: {type(error).__name__}: {clip(str(error))}") from None
        characters += len(objects[-1]["segmentation"]["counts"])
        if characters > MAX_PKL_BYTES:
            raise ReleaseFileError("bad_pkl", f"{where}: the RLEs so far hold more characters than the file")
    return objects


def _release_object(item: object, where: str, recipe: SubsetRecipe, height: int, width: int) -> dict:
    release = recipe.release
    needed = ["mask", "category", "size", release.box_key] + (["rbox"] if release.rotated else [])
    if type(item) is not dict:
        raise ReleaseFileError("bad_pkl", f"{where}: {describe(item)}, not an instance dict")
    missing = [key for key in needed if key not in item]
    if missing:
        have = ", ".join(describe(key) for key in list(item)[:8]) + (", ..." if len(item) > 8 else "")
        raise ReleaseFileError("bad_pkl", f"{where}: no {', '.join(map(repr, missing))} (it has {have})")
    segmentation, area = _segmentation(item["mask"], where, height, width)
    size = _integer(item["size"], where, "size")
    if size != area:
        raise ReleaseFileError("bad_pkl", f"{where}: 'size' is {size} but its RLE covers {area}")
    prompt = _box(item[release.box_key], where, release.box_key, 4)
    bbox = _box(item[BOX_KEY], where, BOX_KEY, 4) if BOX_KEY in item else geometry.hbox_xyxy_to_xywh(prompt)
    rbox = geometry.polygon_to_rbox(_box(item["rbox"], where, "rbox", 8).reshape(4, 2)) if release.rotated else None
    return {
        "category": _category(item, where, recipe),
        "bbox": [float(v) for v in bbox],
        "rbox": None if rbox is None else [float(v) for v in rbox],
        "segmentation": segmentation,
        "area": area,
        "score": math.nan,
        "prompt_box": [float(v) for v in prompt],
    }


def release_instances(objects: list[dict], recipe: SubsetRecipe, where: str) -> list[dict]:
    """A row's ``objects`` as the release's instance dicts (its keys, order and types), plus :data:`BOX_KEY`."""
    release = recipe.release
    instances = []
    for number, obj in enumerate(objects):
        mask = {"size": [int(v) for v in obj["segmentation"]["size"]], "counts": str(obj["segmentation"]["counts"])}
        box = np.asarray(obj["prompt_box"], dtype=release.box_dtype)
        name, label, size = recipe.classes[obj["category"]], int(obj["category"]), np.int64(obj["area"])
        if not release.rotated:
            item = {"mask": mask, "bbox": box, "category": name, "size": size, "label": label}
        elif obj["rbox"] is None:
            raise ValueError(
                f"{where}, instance {number}: no rbox, which every instance of the {recipe.name} release has"
            )
        else:
            corners = geometry.rbox_to_polygon(obj["rbox"])
            item = {"mask": mask, "rbox": corners, "rhbox": box, "category": name, "label": label, "size": size}
        instances.append(item | {BOX_KEY: np.asarray(obj["bbox"], dtype=np.float32)})
    return instances
