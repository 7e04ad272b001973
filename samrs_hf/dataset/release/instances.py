"""The release's instance dicts <-> the objects of SAMRS rows."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from pycocotools import mask as mask_utils

from samrs_hf import geometry
from samrs_hf.dataset.release.format import RELEASE_FORMATS, ReleaseFileError
from samrs_hf.dataset.subsets import SubsetRecipe


def _category(item: dict, where: str, recipe: SubsetRecipe) -> int:
    """Release index of an instance: by name (checked against ``label``), or the index of an early pkl."""
    category, label = item.get("category"), item.get("label")
    if isinstance(category, str):
        name = category if category in recipe.classes else recipe.release_name(category)
        if name not in recipe.classes:
            raise ReleaseFileError("bad_pkl", f"{where}: category {category!r} is not a {recipe.name} class")
        index = recipe.classes.index(name)
    elif isinstance(category, (int, np.integer)) and not isinstance(category, bool):
        index = int(category)
        if not 0 <= index < len(recipe.classes):
            raise ReleaseFileError(
                "bad_pkl", f"{where}: category index {index} is outside 0..{len(recipe.classes) - 1} of {recipe.name}"
            )
    else:
        raise ReleaseFileError("bad_pkl", f"{where}: category {category!r} is neither a class name nor an index")
    if label is not None and int(label) != index:
        raise ReleaseFileError(
            "bad_pkl", f"{where}: label {int(label)} disagrees with category {category!r} (index {index})"
        )
    return index


def _segmentation(mask: object, where: str, height: int, width: int) -> dict:
    if not isinstance(mask, dict) or "size" not in mask or "counts" not in mask:
        raise ReleaseFileError("bad_pkl", f"{where}: 'mask' is not a COCO RLE {{'size': [h, w], 'counts': str}}")
    counts = mask["counts"]
    if isinstance(counts, bytes):
        counts = counts.decode("ascii")
    if not isinstance(counts, str):
        raise ReleaseFileError("bad_pkl", f"{where}: RLE counts of type {type(counts).__name__}, not str or bytes")
    size = [int(v) for v in mask["size"]]
    if size != [height, width]:
        raise ReleaseFileError("size_mismatch", f"{where}: mask size {size} but the image is [{height}, {width}]")
    return {"size": size, "counts": counts}


def _box(value: object, where: str, key: str, shape: tuple[int, ...]) -> np.ndarray:
    box = np.asarray(value, dtype=np.float64)
    if box.size != math.prod(shape) or not np.isfinite(box).all():
        raise ReleaseFileError("bad_pkl", f"{where}: {key!r} is {value!r}, not {math.prod(shape)} finite numbers")
    return box.reshape(shape)


def release_objects(instances: object, path: Path, recipe: SubsetRecipe, height: int, width: int) -> list[dict]:
    """The ``objects`` of a row from a pkl's instance list (see the module docstring for the mapping).

    Any field of the wrong kind is a :class:`ReleaseFileError` naming the file and the instance.
    """
    if not isinstance(instances, list):
        raise ReleaseFileError("bad_pkl", f"{path}: holds a {type(instances).__name__}, not a list of instance dicts")
    objects = []
    for number, item in enumerate(instances):
        where = f"{path}, instance {number}"
        try:
            objects.append(_release_object(item, where, recipe, height, width))
        except ReleaseFileError:
            raise
        except (TypeError, ValueError) as error:
            raise ReleaseFileError("bad_pkl", f"{where}: {error}") from None
    return objects


def _release_object(item: object, where: str, recipe: SubsetRecipe, height: int, width: int) -> dict:
    release = RELEASE_FORMATS[recipe.name]
    needed = ["mask", "category", "size", release.box_key] + (["rbox"] if release.rotated else [])
    missing = [key for key in needed if not isinstance(item, dict) or key not in item]
    if missing:
        have = sorted(item) if isinstance(item, dict) else type(item).__name__
        raise ReleaseFileError("bad_pkl", f"{where}: no {', '.join(map(repr, missing))} (it has {have})")
    segmentation = _segmentation(item["mask"], where, height, width)
    rle_area = int(mask_utils.area({"size": segmentation["size"], "counts": segmentation["counts"].encode()}))
    if int(item["size"]) != rle_area:
        raise ReleaseFileError("bad_pkl", f"{where}: 'size' is {int(item['size'])} but its RLE covers {rle_area}")
    prompt = _box(item[release.box_key], where, release.box_key, (4,))
    rbox = geometry.polygon_to_rbox(_box(item["rbox"], where, "rbox", (4, 2))) if release.rotated else None
    return {
        "category": _category(item, where, recipe),
        "bbox": [float(v) for v in geometry.hbox_xyxy_to_xywh(prompt)],
        "rbox": None if rbox is None else [float(v) for v in rbox],
        "segmentation": segmentation,
        "area": rle_area,
        "score": math.nan,
        "prompt_box": [float(v) for v in prompt],
    }


def release_instances(objects: list[dict], recipe: SubsetRecipe, where: str) -> list[dict]:
    """A row's ``objects`` as the release's instance dicts (its keys, order and types)."""
    release = RELEASE_FORMATS[recipe.name]
    instances = []
    for number, obj in enumerate(objects):
        mask = {"size": [int(v) for v in obj["segmentation"]["size"]], "counts": str(obj["segmentation"]["counts"])}
        box = np.asarray(obj["prompt_box"], dtype=release.box_dtype)
        name, label, size = recipe.classes[obj["category"]], int(obj["category"]), np.int64(obj["area"])
        if not release.rotated:
            instances.append({"mask": mask, "bbox": box, "category": name, "size": size, "label": label})
            continue
        if obj["rbox"] is None:
            raise ValueError(
                f"{where}, instance {number}: no rbox, which every instance of the {recipe.name} release has"
            )
        corners = geometry.rbox_to_polygon(obj["rbox"])
        instances.append({"mask": mask, "rbox": corners, "rhbox": box, "category": name, "label": label, "size": size})
    return instances
