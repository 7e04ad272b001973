"""The authors' SAMRS release on disk: read it (safely) into SAMRS rows, and write SAMRS rows back in its layout.

Layout of one subset of the release (ViTAE-Transformer/SAMRS, ``Generate Dataset/main_sam_{hbox,rhbox}_semantic.py``
and ``main_pretrain.py``)::

    ROOT/images/NAME.png                     image (SOTA, FAST); SIOR: ROOT/JPEGImages-trainval/NAME.jpg
    ROOT/{hbox|rhbox}_segs*/gray/NAME.png    mode-L PNG, class index in release order, 255 = no mask
    ROOT/{hbox|rhbox}_segs*/color/NAME.png   the same map in RGB (:data:`RELEASE_PALETTE`, 255 white)
    ROOT/{hbox|rhbox}_segs*/ins/NAME.pkl     pickled list of instance dicts, in painting order
    ROOT/train.txt, ROOT/valid.txt           one NAME per line: the ``train`` / ``validation`` splits

An instance dict: ``mask`` = COCO RLE ``{'size': [h, w], 'counts': str}``; ``category`` = class name
(early pkls: the index, and no ``label``); ``label`` = release index (int); ``size`` = mask area
(numpy int); SOTA/SIOR ``bbox`` = the H-Box prompt, numpy float ``[x1, y1, x2, y2]`` (float64 for
SOTA, float32 for SIOR, as the official readers build them); FAST ``rhbox`` = the prompt (numpy float64
``[x1, y1, x2, y2]``) and ``rbox`` = the R-Box as its four corners, numpy float64 ``(4, 2)`` (the
``x1 y1 ... x4 y4`` of the rotated-box text files). The semantic map is painted in list order, so
a later instance overwrites an earlier one where they overlap.

Import (:func:`import_release`) writes rows of the ``samrs build`` schema through
:class:`~samrs_hf.dataset.writer.SubsetWriter`, so loading, stats, viz, COCO export and SEP work unchanged:

* ``image``: the file's bytes when it is an RGB PNG or JPEG, else re-encoded as PNG; ``semantic_map``:
  the ``gray/`` PNG byte for byte (never repainted); ``source``: the image path relative to ROOT;
  ``tile``: ``[0, 0]`` (each release image is a tile; its name carries the origin where there is one).
* ``objects``: ``segmentation`` = the release RLE as is (``counts`` as str); ``prompt_box`` = ``bbox`` /
  ``rhbox``; ``bbox`` = the prompt box in COCO order (``samrs build`` stores the annotation's box there,
  which is the prompt box for both ``hbox`` and ``rhbox``; the pkl holds no other box); ``rbox``
  (FAST) = :func:`~samrs_hf.geometry.polygon_to_rbox` of the corners, ``[cx, cy, w, h, angle_rad]``;
  ``area`` = ``size``, checked against the RLE; ``score`` = NaN: the release records no SAM score.
* Tiles listed without a pkl get no instances (counted); pickles are read by :class:`SafeUnpickler`.

Export (:func:`export_release`) writes a SAMRS folder's split(s) back in this layout, with the
release's keys and types (pickle protocol 4, as the official code's Python 3.8 wrote; under numpy 2
the pickles name ``numpy._core``, which numpy >= 1.26 reads) and the official ``color/`` palette.
``import_release(export_release(x))`` gives ``x`` back row by row: image bytes, semantic map, RLEs,
prompt boxes, categories and areas; FAST's ``rbox`` as the same rectangle (its ``(w, h, angle)`` may
come back as ``(h, w, angle +- pi/2)``); ``score`` becomes NaN, ``bbox`` the prompt box, and SOTA/SIOR
rows lose any ``rbox`` (their release keeps none).
"""

from __future__ import annotations

import io
import math
import os
import pickle
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
from accelerate import PartialState
from accelerate.utils import gather_object
from PIL import Image
from pycocotools import mask as mask_utils
from tqdm.auto import tqdm

from samrs_hf import geometry
from samrs_hf.classes import IGNORE_INDEX
from samrs_hf.dataset.schema import image_bytes
from samrs_hf.dataset.shards import SHARD_RE, shard_files
from samrs_hf.dataset.subsets import SubsetRecipe, get_subset
from samrs_hf.dataset.writer import SubsetWriter

__all__ = [
    "RELEASE_FORMATS",
    "RELEASE_PALETTE",
    "RELEASE_SOURCE",
    "ExportSummary",
    "ImportOptions",
    "ImportSummary",
    "ReleaseFileError",
    "ReleaseFormat",
    "ReleaseLayout",
    "SafeUnpickler",
    "UnsafePickleError",
    "export_release",
    "find_layout",
    "import_release",
    "load_pickle",
    "release_objects",
]

RELEASE_SOURCE = "samrs-release"
"""``source`` of an imported subset's recorded settings (the card says "Imported from the authors' SAMRS release")."""

SPLIT_FILES = {"train": "train.txt", "validation": "valid.txt"}
"""Dataset split -> the release's split list at the subset root."""

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
SHOWN = 10
"""Skipped files and tiles without a pkl named in the summary (all of them are counted)."""


@dataclass(frozen=True)
class ReleaseFormat:
    """What differs between the subsets of the release: image folder and suffix, label folder, pkl box fields."""

    images: str
    suffix: str
    segs: str
    box_key: str
    box_dtype: type
    rotated: bool


RELEASE_FORMATS: dict[str, ReleaseFormat] = {
    "sota": ReleaseFormat("images", ".png", "hbox_segs", "bbox", np.float64, rotated=False),
    "sior": ReleaseFormat("JPEGImages-trainval", ".jpg", "hbox_segs", "bbox", np.float32, rotated=False),
    "fast": ReleaseFormat("images", ".png", "rhbox_segs", "rhbox", np.float64, rotated=True),
}

_PALETTE_COLORS = (
    (0, 127, 255), (0, 63, 0), (0, 127, 63), (0, 63, 255), (0, 0, 127), (0, 127, 127), (0, 0, 63), (0, 63, 127),
    (0, 63, 191), (0, 191, 127), (0, 127, 191), (0, 63, 63), (0, 100, 155), (0, 0, 255), (0, 0, 191), (64, 191, 127),
    (64, 0, 191), (128, 63, 63), (128, 0, 63), (191, 63, 0), (255, 127, 0), (63, 0, 0), (127, 63, 0), (63, 255, 0),
    (0, 127, 0), (127, 127, 0), (63, 0, 63), (63, 127, 0), (63, 191, 0), (191, 127, 0), (127, 191, 0), (63, 63, 0),
    (100, 155, 0), (0, 255, 0), (0, 191, 0), (191, 127, 64), (0, 191, 64),
)  # fmt: skip
RELEASE_PALETTE = np.full((256, 3), 255, dtype=np.uint8)
"""``color/`` PNG colour of each class index (0..36, shared by the three subsets); 255 (no mask) is white.
From the official code's ``MAPPING`` (ViTAE-Transformer/SAMRS, ``Generate Dataset/mapping.py``)."""
RELEASE_PALETTE[: len(_PALETTE_COLORS)] = _PALETTE_COLORS


class ReleaseFileError(ValueError):
    """A release file that cannot be imported; ``reason`` is what ``--skip-bad`` counts it under."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


class UnsafePickleError(ReleaseFileError):
    """A pickle that refers to something besides builtins containers and numpy arrays/scalars."""

    def __init__(self, message: str):
        super().__init__("unsafe_pkl", message)


# ---------------------------------------------------------------------------------------------- safe unpickling

_NUMPY_CORE = "numpy._core" if np.lib.NumpyVersion(np.__version__) >= "2.0.0" else "numpy.core"
_BUILTINS = ("bytearray", "bytes", "complex", "frozenset", "set")
SAFE_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    {(module, name) for module in ("builtins", "__builtin__") for name in _BUILTINS}
    | {("_codecs", "encode"), ("numpy", "dtype"), ("numpy", "ndarray")}
    | {(f"{core}.multiarray", name) for core in ("numpy.core", "numpy._core") for name in ("_reconstruct", "scalar")}
    | {(f"{core}.numeric", "_frombuffer") for core in ("numpy.core", "numpy._core")}
)  # fmt: skip
"""The only globals a release pkl may name: what pickle protocols 0-5 write for lists and dicts of
str, numbers and numpy arrays and scalars, under numpy 1.x (``numpy.core``) and 2.x (``numpy._core``).
Arrays: ``multiarray._reconstruct`` + ``ndarray`` + ``dtype`` (protocols 0-4) or ``numeric._frombuffer``
(protocol 5); scalars: ``multiarray.scalar`` + ``dtype``; ``_codecs.encode`` rebuilds bytes in
protocols 0-2; sets, bytes, bytearrays and complex numbers are rebuilt by their builtins."""


class SafeUnpickler(pickle.Unpickler):
    """Unpickler that admits only :data:`SAFE_GLOBALS`; anything else raises :class:`UnsafePickleError`
    before it is imported, so nothing in the file runs. numpy names of either major version are
    resolved in the installed numpy."""

    def __init__(self, file, path: Path | str):
        super().__init__(file)
        self.path = path

    def find_class(self, module: str, name: str):
        if (module, name) not in SAFE_GLOBALS:
            raise UnsafePickleError(
                f"{self.path}: refused to unpickle {module}.{name}: a release pkl holds only lists, dicts, strings, "
                "numbers and numpy arrays, so this file is not one and may be unsafe (nothing in it was run)"
            )
        if module.startswith(("numpy.core.", "numpy._core.")):
            module = f"{_NUMPY_CORE}.{module.rsplit('.', 1)[1]}"
        return super().find_class(module, name)


def load_pickle(path: Path) -> object:
    """Unpickle ``path`` with :class:`SafeUnpickler`; a corrupt or unsafe file is a :class:`ReleaseFileError`."""
    with open(path, "rb") as file:
        try:
            return SafeUnpickler(file, path).load()
        except UnsafePickleError:
            raise
        except Exception as error:  # a corrupt pickle fails with any of a dozen exception types
            raise ReleaseFileError(
                "bad_pkl", f"{path}: not a readable pickle ({type(error).__name__}: {error})"
            ) from None


# ---------------------------------------------------------------------------------------------- layout


@dataclass(frozen=True)
class ReleaseLayout:
    """Where one subset of the release lies: image folders (searched in order), ``gray/``, ``ins/`` and split lists."""

    root: Path
    images: tuple[Path, ...]
    gray: Path
    ins: Path
    split_lists: dict[str, Path]

    def settings(self) -> dict:
        """The folders as absolute paths (recorded with the shards: a resume from other folders is refused)."""
        return {
            "root": str(self.root.resolve()),
            "images": [str(p.resolve()) for p in self.images],
            "gray": str(self.gray.resolve()),
            "ins": str(self.ins.resolve()),
            "split_lists": {split: str(p.resolve()) for split, p in self.split_lists.items()},
        }


def find_layout(
    root: Path,
    subset: str,
    images: list[Path] | tuple[Path, ...] | None = None,
    gray: Path | None = None,
    ins: Path | None = None,
    split_lists: dict[str, Path] | None = None,
) -> ReleaseLayout:
    """Find the release layout of ``subset`` under ``root``; given folders and lists override detection.

    Detection: image folders = ``images/`` if present, else every ``JPEGImages*/`` (sorted); labels =
    the one ``{hbox|rhbox}_segs*/`` folder (the subset's prompt first, any ``*_segs*/`` otherwise)
    holding ``gray/`` and ``ins/``; splits = ``train.txt`` -> ``train`` and ``valid.txt`` ->
    ``validation`` at ``root``, those present. Raises ``FileNotFoundError`` / ``ValueError`` naming what
    is missing and the option that points at it.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"--root {root}: no such folder (the release's {subset} folder)")
    release = RELEASE_FORMATS[subset]
    image_dirs = tuple(Path(p) for p in images) if images else _image_folders(root)
    for folder in image_dirs:
        if not folder.is_dir():
            raise FileNotFoundError(f"--images {folder}: no such folder")
    if gray is None or ins is None:
        segs = _segs_folder(root, release.segs)
        gray, ins = gray or segs / "gray", ins or segs / "ins"
    for option, folder in (("--gray", gray), ("--ins", ins)):
        if not Path(folder).is_dir():
            extra = " (an empty folder imports the semantic maps alone)" if option == "--ins" else ""
            raise FileNotFoundError(f"{folder}: no such folder; point at it with {option} DIR{extra}")
    lists = {_split_name(s): Path(p) for s, p in split_lists.items()} if split_lists else _split_lists(root)
    for split, path in lists.items():
        if not SHARD_RE.match(f"{split}-r00-00000.parquet"):
            raise ValueError(f"--split-list {split}={path}: a split name is letters, digits and underscores")
        if not path.is_file():
            raise FileNotFoundError(f"--split-list {split}={path}: no such file")
    return ReleaseLayout(root, image_dirs, Path(gray), Path(ins), lists)


def _split_name(name: str) -> str:
    """Dataset split of a ``--split-list`` name: ``val`` and ``valid`` are ``validation``."""
    return "validation" if name in ("val", "valid") else name


def _image_folders(root: Path) -> tuple[Path, ...]:
    if (root / "images").is_dir():
        return (root / "images",)
    found = tuple(sorted(p for p in root.glob("JPEGImages*") if p.is_dir()))
    if not found:
        raise FileNotFoundError(f"{root}: no image folder (images/ or JPEGImages*/); point at it with --images DIR")
    return found


def _segs_folder(root: Path, expected: str) -> Path:
    found = sorted(p for p in root.glob("*_segs*") if p.is_dir())
    candidates = [p for p in found if p.name.startswith(expected)] or found
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise FileNotFoundError(
            f"{root}: no label folder ({expected}*/ holding gray/ and ins/); point at them with --gray DIR --ins DIR"
        )
    names = ", ".join(p.name for p in candidates)
    raise ValueError(f"{root}: several label folders ({names}); choose one with --gray DIR --ins DIR")


def _split_lists(root: Path) -> dict[str, Path]:
    lists = {split: root / name for split, name in SPLIT_FILES.items() if (root / name).is_file()}
    if not lists:
        raise FileNotFoundError(
            f"{root}: no split lists ({', '.join(SPLIT_FILES.values())}); "
            "give them with --split-list train=FILE --split-list validation=FILE"
        )
    return lists


def read_split_list(path: Path) -> list[str]:
    """The names in a split list, one per line (blank lines skipped, duplicates kept once)."""
    names = (line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines())
    return list(dict.fromkeys(name for name in names if name))


def _image_index(folders: tuple[Path, ...]) -> dict[str, Path]:
    """``NAME -> image file`` over ``folders`` (the first folder holding a name wins)."""
    index: dict[str, Path] = {}
    for folder in folders:
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() in IMAGE_SUFFIXES:
                index.setdefault(path.stem, path)
    return index


# ---------------------------------------------------------------------------------------------- pkl -> objects


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


# ---------------------------------------------------------------------------------------------- files -> row


def _read_image(path: Path) -> tuple[bytes, int, int]:
    """``(bytes to store, width, height)``: the file as is when an RGB PNG or JPEG, else re-encoded as PNG."""
    try:
        data = path.read_bytes()
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            if image.format not in ("JPEG", "PNG") or image.mode != "RGB":
                data = image_bytes(image.convert("RGB"))["bytes"]
            return data, image.width, image.height
    except (OSError, SyntaxError, ValueError) as error:
        raise ReleaseFileError("unreadable_image", f"{path}: unreadable image ({error})") from None


def _read_semantic_map(path: Path, width: int, height: int, num_classes: int) -> bytes:
    """The bytes of a ``gray/`` map, checked: a mode-L PNG of the image's size holding class indices or 255."""
    try:
        data = path.read_bytes()
        with Image.open(io.BytesIO(data)) as png:
            kind, size = (png.format, png.mode), png.size
            values = np.unique(np.asarray(png)) if kind == ("PNG", "L") else None
    except (OSError, SyntaxError, ValueError) as error:
        raise ReleaseFileError("bad_semantic_map", f"{path}: unreadable PNG ({error})") from None
    if values is None:
        raise ReleaseFileError(
            "bad_semantic_map",
            f"{path}: a {kind[0]} image of mode {kind[1]}, not the mode-L PNG of class indices the release's gray/ "
            "holds (was --gray pointed at color/?)",
        )
    if size != (width, height):
        raise ReleaseFileError("size_mismatch", f"{path}: {size[0]}x{size[1]}, but its image is {width}x{height}")
    bad = values[(values >= num_classes) & (values != IGNORE_INDEX)]
    if bad.size:
        raise ReleaseFileError(
            "bad_semantic_map", f"{path}: values {bad.tolist()} are neither class indices 0..{num_classes - 1} nor 255"
        )
    return data


@dataclass
class ReleaseTile:
    """One listed tile: dataset split, release NAME and its image file (``None`` when not found)."""

    split: str
    name: str
    image: Path | None


@dataclass
class LoadedTile:
    """A tile's row, or the error that kept it from being read; ``has_pkl`` tells an empty list from no file."""

    tile: ReleaseTile
    row: dict | None = None
    has_pkl: bool = False
    error: ReleaseFileError | None = None


def read_tile(tile: ReleaseTile, layout: ReleaseLayout, recipe: SubsetRecipe) -> LoadedTile:
    """Read one listed tile's image, semantic map and pkl into a row (errors are returned, not raised)."""
    try:
        if tile.image is None:
            folders = ", ".join(str(p) for p in layout.images)
            raise ReleaseFileError("missing_image", f"{tile.name}: no image in {folders}")
        gray = layout.gray / f"{tile.name}.png"
        if not gray.is_file():
            raise ReleaseFileError("missing_semantic_map", f"{gray}: no such file")
        data, width, height = _read_image(tile.image)
        semantic = _read_semantic_map(gray, width, height, len(recipe.classes))
        pkl = layout.ins / f"{tile.name}.pkl"
        has_pkl = pkl.is_file()
        objects = release_objects(load_pickle(pkl), pkl, recipe, height, width) if has_pkl else []
    except ReleaseFileError as error:
        return LoadedTile(tile, error=error)
    row = {
        "image_id": tile.name,
        "image": {"bytes": data, "path": None},
        "semantic_map": {"bytes": semantic, "path": None},
        "objects": objects,
        "width": width,
        "height": height,
        "source": Path(os.path.relpath(tile.image, layout.root)).as_posix(),
        "tile": [0, 0],
    }
    return LoadedTile(tile, row, has_pkl)


# ---------------------------------------------------------------------------------------------- import


@dataclass
class ImportOptions:
    """What ``samrs import-release`` takes; ``None`` folders and lists are detected under ``root``."""

    subset: str
    root: Path
    out: Path
    images: tuple[Path, ...] | None = None
    gray: Path | None = None
    ins: Path | None = None
    split_lists: dict[str, Path] | None = None
    limit: int | None = None  # first N names of each split list
    rows_per_shard: int = 256
    workers: int = 4  # threads reading files ahead of the writer
    skip_bad: bool = False
    overwrite: bool = False

    def __post_init__(self) -> None:
        self.root, self.out = Path(self.root), Path(self.out)


@dataclass
class ImportSummary:
    """Counts of one import (summed over processes) and the names of what was skipped or has no pkl."""

    listed: Counter = field(default_factory=Counter)
    already_done: int = 0
    written: int = 0
    instances: int = 0
    without_pkl: list[str] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)
    skip_messages: list[str] = field(default_factory=list)

    def merge(self, other: ImportSummary) -> None:
        """Add another process's counts (the plan counts, ``listed`` and ``already_done``, are everyone's)."""
        self.written += other.written
        self.instances += other.instances
        self.without_pkl += other.without_pkl
        self.skipped.update(other.skipped)
        self.skip_messages += other.skip_messages

    def format(self) -> str:
        listed = ", ".join(f"{split} {n}" for split, n in self.listed.items())
        lines = [
            f"tiles listed: {listed}",
            f"tiles already in committed shards (resumed): {self.already_done}",
            f"tiles written: {self.written}",
            f"instances written: {self.instances}",
            f"tiles without a pkl (written with no instances): {len(self.without_pkl)}",
        ]
        lines += _shown(self.without_pkl)
        lines += [f"skipped (--skip-bad), {reason}: {n}" for reason, n in sorted(self.skipped.items())]
        lines += _shown(self.skip_messages)
        return "\n".join(lines)


def _shown(items: list[str]) -> list[str]:
    more = [f"  ... and {len(items) - SHOWN} more"] if len(items) > SHOWN else []
    return [f"  {item}" for item in items[:SHOWN]] + more


def import_settings(recipe: SubsetRecipe, layout: ReleaseLayout) -> dict:
    """What determines an imported subset's rows: a resume from other folders or lists is refused."""
    return {"subset": recipe.name, "source": RELEASE_SOURCE, "release": layout.settings()}


def plan_release(layout: ReleaseLayout, limit: int | None, skip_bad: bool, summary: ImportSummary) -> list[ReleaseTile]:
    """Every listed tile, split by split in list order (fills ``summary.listed``).

    Without ``skip_bad`` a listed name with no image or no ``gray/`` map stops the import here,
    before anything is read; with it, those tiles are skipped (and counted) when read.
    """
    index = _image_index(layout.images)
    planned = []
    for split, path in layout.split_lists.items():
        names = read_split_list(path)[:limit]
        summary.listed[split] += len(names)
        planned += [ReleaseTile(split, name, index.get(name)) for name in names]
    if not skip_bad:
        _check_files(planned, layout)
    return planned


def _check_files(planned: list[ReleaseTile], layout: ReleaseLayout) -> None:
    lists = ", ".join(str(p) for p in layout.split_lists.values())
    no_image = [t.name for t in planned if t.image is None]
    if no_image:
        folders = ", ".join(str(p) for p in layout.images)
        raise FileNotFoundError(
            f"{len(no_image)} names in {lists} have no image in {folders} (e.g. {', '.join(no_image[:3])}); "
            "point at the image folder with --images DIR, or pass --skip-bad to skip them"
        )
    gray_names = {p.stem for p in layout.gray.glob("*.png")}
    no_gray = [t.name for t in planned if t.name not in gray_names]
    if no_gray:
        raise FileNotFoundError(
            f"{len(no_gray)} names in {lists} have no {layout.gray}/NAME.png (e.g. {', '.join(no_gray[:3])}); "
            "point at the semantic maps with --gray DIR, or pass --skip-bad to skip them"
        )


def import_release(options: ImportOptions) -> ImportSummary:
    """Import (or resume importing) one subset of the authors' release into the SAMRS folder ``options.out``.

    Like ``samrs build``: committed tiles are skipped, the rest are split between ``accelerate``
    processes, and each process's rows go through :class:`~samrs_hf.dataset.writer.SubsetWriter`.
    Returns the summary of all processes; raises ``ValueError`` when no tile could be written.
    """
    from samrs_hf.dataset.build import prefetch

    recipe = get_subset(options.subset)
    layout = find_layout(options.root, recipe.name, options.images, options.gray, options.ins, options.split_lists)
    state = PartialState(cpu=True)
    writer = SubsetWriter(options.out, recipe, state, options.rows_per_shard)
    done = writer.prepare(import_settings(recipe, layout), overwrite=options.overwrite)
    summary = ImportSummary()
    planned = plan_release(layout, options.limit, options.skip_bad, summary)
    todo = [t for t in planned if (t.split, t.name) not in done]
    summary.already_done = len(planned) - len(todo)
    with state.split_between_processes(todo) as mine:
        loaders = (partial(read_tile, tile, layout, recipe) for tile in mine)
        _write_tiles(prefetch(loaders, options.workers, 2 * options.workers), len(mine), writer, options, summary)
    total = _gather(summary)
    writer.finish()
    if not shard_files(writer.folder):
        raise ValueError(
            f"no tile of {recipe.name} was written to {options.out} ({sum(total.listed.values())} listed, "
            f"{sum(total.skipped.values())} skipped); check --root and the split lists, or drop --limit"
        )
    return total


def _write_tiles(
    loaded_tiles: Iterator[LoadedTile], count: int, writer: SubsetWriter, options: ImportOptions, summary: ImportSummary
) -> None:
    rank = writer.state.process_index
    with writer.open() as put, tqdm(total=count, desc=f"importing {options.subset} [rank {rank}]", unit="tile") as bar:
        for loaded in loaded_tiles:
            bar.update()
            if loaded.error is not None:
                if not options.skip_bad:
                    raise loaded.error
                summary.skipped[loaded.error.reason] += 1
                summary.skip_messages.append(str(loaded.error))
                continue
            if not loaded.has_pkl:
                summary.without_pkl.append(f"{loaded.tile.split}/{loaded.tile.name}")
            put(loaded.tile.split, lambda row=loaded.row: row)
            summary.written += 1
            summary.instances += len(loaded.row["objects"])


def _gather(summary: ImportSummary) -> ImportSummary:
    gathered = gather_object([summary])
    total = gathered[0]
    for other in gathered[1:]:
        total.merge(other)
    return total


# ---------------------------------------------------------------------------------------------- export


@dataclass
class ExportSummary:
    """What an export wrote: tiles per split, instances, and images re-encoded to the release's format."""

    tiles: Counter = field(default_factory=Counter)
    instances: int = 0
    reencoded: int = 0

    def format(self) -> str:
        tiles = ", ".join(f"{split} {n}" for split, n in self.tiles.items())
        return (
            f"tiles written: {tiles}\ninstances written: {self.instances}\n"
            f"images re-encoded to the release's format: {self.reencoded}"
        )


_FORMATS = {".png": "PNG", ".jpg": "JPEG"}
_SAFE_NAME = re.compile(r"^[^/\\\x00]+$")


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


def _encoded(data: bytes, suffix: str) -> tuple[bytes, bool]:
    """``(bytes, re-encoded)``: ``data`` as is in ``suffix``'s format, else re-encoded (JPEG at quality 95)."""
    with Image.open(io.BytesIO(data)) as image:
        if image.format == _FORMATS[suffix]:
            return data, False
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format=_FORMATS[suffix], quality=95)
    return buffer.getvalue(), True


def _write_release_tile(row: dict, out: Path, recipe: SubsetRecipe, where: str) -> tuple[int, bool]:
    """Write one row's image, gray and color maps and pkl; returns (instances, image re-encoded)."""
    release = RELEASE_FORMATS[recipe.name]
    name = row["image_id"]
    if not _SAFE_NAME.match(name) or name in (".", ".."):
        raise ValueError(f"{where}: image_id {name!r} cannot be a release file name")
    data, reencoded = _encoded(row["image"]["bytes"], release.suffix)
    (out / release.images / f"{name}{release.suffix}").write_bytes(data)
    gray = row["semantic_map"]["bytes"]
    with Image.open(io.BytesIO(gray)) as png:
        if (png.format, png.mode) != ("PNG", "L"):
            raise ValueError(f"{where}: the semantic map is a {png.format} of mode {png.mode}, not a mode-L PNG")
        semantic = np.asarray(png)
    segs = out / release.segs
    (segs / "gray" / f"{name}.png").write_bytes(gray)
    Image.fromarray(RELEASE_PALETTE[semantic]).save(segs / "color" / f"{name}.png")
    instances = release_instances(row["objects"], recipe, where)
    with open(segs / "ins" / f"{name}.pkl", "wb") as file:
        pickle.dump(instances, file, protocol=4)
    return len(instances), reencoded


def export_release(dataset_dir: Path, config: str, out: Path, splits: list[str] | None = None) -> ExportSummary:
    """Write ``config``'s ``splits`` (default: all) of the SAMRS folder ``dataset_dir`` in the release layout.

    ``out`` must be new or empty. Split lists: ``train`` -> ``train.txt``, ``validation`` ->
    ``valid.txt``, any other split ``{split}.txt``. A name in two splits is refused (the release
    holds one file per name). Images are written as stored when their format is the release's
    (PNG for SOTA/FAST, JPEG for SIOR), else re-encoded (counted: JPEG is lossy).
    """
    from datasets import Image as ImageFeature
    from datasets import load_dataset

    from samrs_hf.dataset.build import prefetch

    recipe, out = get_subset(config), Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"--out {out} exists and is not an empty folder; export into a new or empty folder")
    dataset = load_dataset(str(dataset_dir), config)
    unknown = sorted(set(splits or ()) - set(dataset))
    if unknown:
        raise ValueError(f"{dataset_dir}: {config} has no split {', '.join(unknown)} (it has {', '.join(dataset)})")
    splits = splits or list(dataset)
    names = {split: dataset[split]["image_id"] for split in splits}
    seen: dict[str, str] = {}
    for split in splits:
        for name in names[split]:
            if seen.setdefault(name, split) != split:
                raise ValueError(f"{dataset_dir}: {name!r} is in both {seen[name]} and {split}; export one of them")
    release = RELEASE_FORMATS[config]
    for folder in (out / release.images, *(out / release.segs / kind for kind in ("gray", "color", "ins"))):
        folder.mkdir(parents=True, exist_ok=True)
    summary = ExportSummary()
    for split in splits:
        rows = dataset[split].cast_column("image", ImageFeature(decode=False))
        rows = rows.cast_column("semantic_map", ImageFeature(decode=False))
        where = f"{dataset_dir} {config}/{split}"
        jobs = (partial(_write_release_tile, row, out, recipe, where) for row in rows)
        for instances, reencoded in tqdm(prefetch(jobs, 4, 8), total=len(rows), desc=f"exporting {config}/{split}"):
            summary.instances += instances
            summary.reencoded += reencoded
        (out / SPLIT_FILES.get(split, f"{split}.txt")).write_text("".join(f"{n}\n" for n in names[split]), "utf-8")
        summary.tiles[split] = len(rows)
    return summary
