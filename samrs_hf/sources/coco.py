"""COCO instance files (``instances_*.json``): iSAID, NWPU VHR-10 and most instance sets ship them.

One JSON file holds ``images`` (``id``, ``file_name``, ``width``, ``height``), ``categories`` (``id``,
``name``) and ``annotations`` (``image_id``, ``category_id``, ``bbox`` ``[x, y, w, h]``, ``segmentation`` as
polygons ``[[x1, y1, x2, y2, ...], ...]`` or RLE ``{"size": [h, w], "counts": str | [int, ...]}``,
``iscrowd``). Images are found by ``file_name`` under ``images`` (default: the JSON's folder, else its
``images/`` subfolder); a ``file_name`` may not leave that folder.

The classes are the file's categories in ``id`` order, by ``name``. Objects get ``hbox`` from ``bbox`` (or
from the segmentation when there is no ``bbox``), ``polygon`` and ``rbox`` (the minimum-area rectangle of
all the polygon's points) when the segmentation is polygons, and their segmentation in
``attributes["segmentation"]``: :meth:`COCO.masks` decodes it. Crowd regions (``iscrowd`` 1) are not
instances: they are dropped and counted (``crowd``).

The file is hostile until checked: its size is bounded (:data:`MAX_JSON_BYTES`), every number must be
finite and within ±``COORDINATE_LIMIT``, and an RLE's counts must add up to its size before pycocotools
sees them (its decoder does not check). A bad file is one :class:`AnnotationError` naming it (and the
line for malformed JSON); a bad image entry or annotation names the file and the entry, and with
``skip_bad`` is skipped and counted instead.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
from pycocotools import mask as mask_utils

from samrs_hf.records import SourceImage, SourceObject
from samrs_hf.sources.base import (
    COORDINATE_LIMIT,
    AnnotationError,
    DetectionSource,
    ParsedAnnotation,
    SkipReport,
    bounded_float,
    object_from_polygon,
)

__all__ = ["COCO", "MAX_JSON_BYTES", "MAX_MASK_PIXELS", "read_coco_json", "rle_counts"]

MAX_JSON_BYTES = 2 * 2**30
"""Largest instance file read (2 GiB; COCO 2017's train file is 450 MB): parsing holds it all in memory."""
MAX_MASK_PIXELS = 2**28
"""Largest image whose masks are decoded (a 16k x 16k scene; each mask takes a byte per pixel)."""


def read_coco_json(path: str | Path) -> dict:
    """The parsed file (a dict with ``images``, ``annotations`` and ``categories`` lists), or an
    :class:`AnnotationError` naming the file (and, for malformed JSON, the line)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_JSON_BYTES:
            raise AnnotationError(path, f"{size / 2**30:.1f} GiB is larger than the {MAX_JSON_BYTES // 2**30} GiB read")
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as error:
        raise AnnotationError(path, f"cannot read: {error}", reason="missing_annotation") from None
    except UnicodeDecodeError as error:
        raise AnnotationError(path, f"not UTF-8 JSON: byte {error.start} ({error.reason})") from None
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as error:
        raise AnnotationError(path, f"malformed JSON: {error.msg} (column {error.colno})", line=error.lineno) from None
    except (ValueError, RecursionError) as error:
        raise AnnotationError(path, f"malformed JSON: {error}") from None
    if not isinstance(data, dict):
        raise AnnotationError(path, f"a COCO instance file is a JSON object, not a {type(data).__name__}")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise AnnotationError(path, f"no {key!r} list: is this a COCO instance file?")
    return data


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def _integer(value, what: str, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= COORDINATE_LIMIT:
        raise ValueError(f"{what} must be an integer in {low}..{COORDINATE_LIMIT:.0f}, got {value!r:.40}")
    return value


def _number(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} must be a number, got {value!r:.40}")
    try:
        return bounded_float(value)
    except (ValueError, OverflowError) as error:
        raise ValueError(f"{what} is {value!r:.40}: {error}") from None


def _key(value, what: str) -> int | str:
    """An ``id`` (COCO's are integers; some files use strings)."""
    if isinstance(value, str) and value:
        return value
    return _integer(value, what)


def rle_counts(counts, size: tuple[int, int]) -> list[int]:
    """An RLE's run lengths (from COCO's compressed string or a list), checked: non-negative, adding up to
    ``height * width``. pycocotools decodes without these checks, so a bad RLE never reaches it."""
    if isinstance(counts, str):
        counts = _decode_counts(counts)
    elif not isinstance(counts, list) or not all(isinstance(c, int) and not isinstance(c, bool) for c in counts):
        raise ValueError("RLE counts must be a string or a list of integers")
    if any(c < 0 for c in counts) or sum(counts) != size[0] * size[1]:
        raise ValueError(f"RLE counts do not cover its {size[0]}x{size[1]} size exactly")
    return counts


def _decode_counts(text: str) -> list[int]:
    """COCO's compressed counts (pycocotools ``rleFrString``): 5 bits per character from ``'0'``, a
    continuation bit, a sign bit on the last, and deltas from the count two before, from the third on."""
    counts, position = [], 0
    while position < len(text):
        value, shift, more = 0, 0, True
        while more:
            if position >= len(text) or shift > 60:
                raise ValueError("malformed RLE counts string")
            code = ord(text[position]) - 48
            if not 0 <= code < 64:
                raise ValueError(f"malformed RLE counts string (character {text[position]!r})")
            value |= (code & 0x1F) << shift
            more = bool(code & 0x20)
            position, shift = position + 1, shift + 5
            if not more and code & 0x10:
                value -= 1 << shift
        counts.append(value + (counts[-2] if len(counts) > 2 else 0))
    return counts


def _segmentation(value, size: tuple[int, int]) -> dict | list | None:
    """Checked polygons (a list of flat coordinate lists) or RLE (counts as a list); ``None`` for none."""
    if value is None or value == []:
        return None
    if isinstance(value, dict):
        rle_size = value.get("size")
        if not (isinstance(rle_size, list) and len(rle_size) == 2 and [*rle_size] == [*size]):
            raise ValueError(f"RLE size {rle_size!r:.40} is not its image's [{size[0]}, {size[1]}]")
        return {"size": list(size), "counts": rle_counts(value.get("counts"), size)}
    if not isinstance(value, list) or not all(isinstance(p, list) for p in value):
        raise ValueError("segmentation must be polygons (lists of x, y numbers) or an RLE object")
    polygons = []
    for polygon in value:
        if len(polygon) < 6 or len(polygon) % 2:
            raise ValueError(f"a polygon needs 3 or more x, y pairs, got {len(polygon)} numbers")
        polygons.append([_number(v, "polygon coordinate") for v in polygon])
    return polygons


def _runs(segmentation: dict | list, size: tuple[int, int]) -> list[int]:
    """The run lengths of checked polygons (rasterised by pycocotools) or RLE."""
    if isinstance(segmentation, dict):
        return segmentation["counts"]
    rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, *size))
    return _decode_counts(rle["counts"].decode("ascii"))


class COCO(DetectionSource):
    """The images of one COCO instance file (``root``), their objects in the file's own categories.

    ``split`` only names the split the images belong to; ``images``: where ``file_name`` s are (see the
    module docstring).
    """

    name = "coco"
    root_is_file = True

    @classmethod
    def gives_rotated_boxes(cls, **options) -> None:
        """Objects segmented by polygons have a rotated box; those by RLE or a box alone have none."""
        return None

    def __init__(
        self,
        root: str | Path,
        split: str | None = None,
        skip_bad: bool = False,
        images: str | Path | None = None,
    ):
        self.annotation_path = path = Path(root)
        if not path.is_file():
            raise FileNotFoundError(f"COCO instance file {path} not found (give the .json file itself)")
        self.root, self.split, self.skip_bad = path.parent, None if split == "all" else split, skip_bad
        self.report = SkipReport()
        self.image_dir = Path(images) if images else self._default_image_dir()
        data = read_coco_json(path)
        self.categories = self._read_categories(data["categories"])
        self.classes = tuple(name for _, name in sorted(self.categories.values(), key=lambda c: _order(c[0])))
        self._images = self._read_images(data["images"])
        self._annotations: dict[int | str, list[tuple[int, dict]]] = defaultdict(list)
        for number, annotation in enumerate(data["annotations"], 1):
            image_id = annotation.get("image_id") if isinstance(annotation, dict) else None
            if isinstance(image_id, int | str) and not isinstance(image_id, bool) and image_id in self._images:
                self._annotations[image_id].append((number, annotation))
            else:
                self._on_error(AnnotationError(path, f"annotation {number}: no image with id {image_id!r:.40}"))
        self._ids = {str(key): key for key in self._images}

    def _default_image_dir(self) -> Path:
        nested = self.root / "images"
        return nested if nested.is_dir() else self.root

    def _fail(self, message: str, reason: str = "malformed") -> AnnotationError:
        return AnnotationError(self.annotation_path, message, reason=reason)

    def _read_categories(self, entries: list) -> dict[int | str, tuple[int | str, str]]:
        categories, names = {}, set()
        for number, entry in enumerate(entries, 1):
            try:
                key = _key(entry.get("id") if isinstance(entry, dict) else None, "its id")
                name = entry.get("name")
                if not isinstance(name, str) or not name.strip():
                    raise ValueError(f"name must be a non-empty string, got {name!r:.40}")
            except ValueError as error:
                raise self._fail(f"category {number}: {error}") from None
            if key in categories or name in names:
                raise self._fail(f"category {number}: id {key!r} or name {name!r} appears twice")
            categories[key] = (key, name)
            names.add(name)
        if not categories:
            raise self._fail("no categories: the file defines no class")
        return categories

    def _read_images(self, entries: list) -> dict[int | str, dict]:
        images = {}
        for number, entry in enumerate(entries, 1):
            try:
                if not isinstance(entry, dict):
                    raise ValueError("must be an object with id, file_name, width and height")
                key = _key(entry.get("id"), "its id")
                if key in images:
                    raise ValueError(f"id {key!r} appears twice")
                width, height = (_integer(entry.get(k), k, low=1) for k in ("width", "height"))
                images[key] = {"path": self._image_path(entry.get("file_name")), "size": (width, height)}
            except ValueError as error:
                self._on_error(self._fail(f"image {number}: {error}"))
        return images

    def _image_path(self, file_name) -> Path:
        if not isinstance(file_name, str) or not file_name.strip() or "\x00" in file_name:
            raise ValueError(f"file_name must be a non-empty string, got {file_name!r:.40}")
        path = (self.image_dir / file_name).resolve()
        if not path.is_relative_to(self.image_dir.resolve()):
            raise ValueError(f"file_name {file_name!r:.80} leaves the image folder {self.image_dir}")
        return path

    def image_ids(self) -> list[str]:
        return sorted(self._ids, key=lambda i: _order(self._ids[i]))

    def annotation_count(self, image_id: str) -> int:
        """Annotations of the image, crowd regions included (what :meth:`load` reads)."""
        return len(self._annotations.get(self._ids[image_id], []))

    def load(self, image_id: str) -> SourceImage:
        key = self._ids[image_id]
        entry = self._images[key]
        width, height = entry["size"]
        objects = []
        for number, annotation in self._annotations.get(key, []):
            try:
                obj = self._object(annotation, (height, width), f"annotation {number}")
            except AnnotationError as error:
                self._on_error(error)
                continue
            if obj is None:
                self.report.add("crowd", f"{self.annotation_path}: annotation {number} is a crowd region (iscrowd 1)")
            else:
                objects.append(obj)
        image_path = entry["path"] if entry["path"].is_file() else None
        parsed = ParsedAnnotation(objects, (width, height))
        return self._source_image(image_id, image_path, self.image_dir, self.annotation_path, parsed)

    def _object(self, annotation, size: tuple[int, int], where: str) -> SourceObject | None:
        """The annotation as an object (``None`` for a crowd region), or an :class:`AnnotationError`."""
        try:
            if annotation.get("iscrowd", 0) not in (0, 1, False, True):
                raise ValueError(f"iscrowd must be 0 or 1, got {annotation.get('iscrowd')!r:.40}")
            if annotation.get("iscrowd"):
                return None
            category = self.categories.get(annotation.get("category_id"))
            if category is None:
                raise AnnotationError(
                    self.annotation_path,
                    f"{where}: unknown category_id {annotation.get('category_id')!r:.40}",
                    reason="unknown_class",
                )
            segmentation = _segmentation(annotation.get("segmentation"), size)
            hbox = self._hbox(annotation.get("bbox"), segmentation, size)
        except ValueError as error:
            if isinstance(error, AnnotationError):
                raise
            raise self._fail(f"{where}: {error}") from None
        attributes = {"segmentation": segmentation, "coco_id": annotation.get("id")}
        if isinstance(segmentation, list):
            obj = object_from_polygon(category[1], np.concatenate([np.reshape(p, (-1, 2)) for p in segmentation]))
            return SourceObject(category[1], hbox, obj.polygon, obj.rbox, attributes=attributes)
        return SourceObject(category[1], hbox, attributes=attributes)

    @staticmethod
    def _hbox(bbox, segmentation, size: tuple[int, int]) -> np.ndarray:
        if bbox is None and segmentation is None:
            raise ValueError("neither a bbox nor a segmentation")
        if bbox is None:
            rows, cols = np.nonzero(_decode(segmentation, size))
            if not len(rows):
                raise ValueError("no bbox and an empty segmentation")
            return np.array([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1], dtype=np.float64)
        if not (isinstance(bbox, list) and len(bbox) == 4):
            raise ValueError(f"bbox must be 4 numbers [x, y, w, h], got {bbox!r:.60}")
        x, y, w, h = (_number(v, "bbox value") for v in bbox)
        if w < 0 or h < 0:
            raise ValueError(f"bbox has a negative side ({w:g} x {h:g})")
        return np.array([x, y, x + w, y + h])

    def masks(self, image: SourceImage) -> list[np.ndarray | None]:
        """Each object's boolean ``(H, W)`` mask from its segmentation (``None`` where it has none)."""
        size = (image.height, image.width)
        if size[0] * size[1] > MAX_MASK_PIXELS:
            raise AnnotationError(self.annotation_path, f"image {image.image_id}: too large to decode masks of")
        return [None if (s := o.attributes.get("segmentation")) is None else _decode(s, size) for o in image.objects]


def _decode(segmentation: dict | list, size: tuple[int, int]) -> np.ndarray:
    """The boolean ``(H, W)`` mask of checked polygons or RLE (runs alternate from 0, column-major)."""
    runs = _runs(segmentation, size)
    return np.repeat(np.arange(len(runs)) % 2 == 1, runs).reshape(size[1], size[0]).T


def _order(key: int | str) -> tuple[int, int | str]:
    """Ids sort as numbers, then strings (a file may mix them)."""
    return (0, key) if isinstance(key, int) else (1, key)
