"""The release's layout: its palette, the bounds of its files, and finding its parts on disk (``find_layout``)
and reading its lists. Each subset's file formats and label folder are its recipe's
(:attr:`SubsetRecipe.release <samrs_hf.dataset.subsets.SubsetRecipe.release>`)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from samrs_hf.dataset.release.files import ReleaseFileError, check_regular_file, clip, describe, read_regular_file
from samrs_hf.dataset.shards import SHARD_RE
from samrs_hf.dataset.subsets import get_subset

RELEASE_SOURCE = "samrs-release"
"""``source`` of an imported subset's recorded settings (the card says "Imported from the authors' SAMRS release")."""

SPLIT_FILES = {"train": "train.txt", "validation": "valid.txt"}
"""Dataset split -> the release's split list at the subset root."""

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")

TILES_FILE = "samrs_tiles.json"
"""Written by ``samrs export-release`` beside the split lists (the authors' release has none):
``{NAME: [source, x0, y0]}``, each tile's ``source`` and ``tile`` origin, which the import restores."""

MAX_INSTANCES = 10_000
"""Instances one pkl may hold: a bound set well above what a 1024x1024 tile of boxes is expected to hold
(not a count of the release; raise it here if a real pkl is refused)."""
MAX_PKL_BYTES = 64 * 2**20
"""Size of one pkl: :data:`MAX_INSTANCES` instances of ~6 KiB each (an RLE of a large mask's column runs
and the pickled numpy boxes). Bigger files are refused before they are read."""
MAX_LIST_BYTES = 16 * 2**20
"""Size of a split list or :data:`TILES_FILE`: four times FAST's 64,147 names at 60 bytes each."""
MAX_IMAGE_BYTES = 256 * 2**20
"""Size of an image or ``gray/`` file: a release tile (at most 1024x1024) is a few MiB even uncompressed."""


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


@dataclass(frozen=True)
class ReleaseLayout:
    """Where one subset of the release lies: image folders (searched in order), ``gray/``, ``ins/`` and split
    lists; ``trusted``: the resolved folders (and files) the import may read from, ``--root`` and those given
    by options; ``origins``: each tile's ``(source, [x0, y0])`` from :data:`TILES_FILE` when there is one."""

    root: Path
    images: tuple[Path, ...]
    gray: Path
    ins: Path
    split_lists: dict[str, Path]
    trusted: tuple[Path, ...] = ()
    origins: dict[str, tuple[str, list[int]]] = field(default_factory=dict)

    def check_file(self, path: Path, max_bytes: int) -> None:
        """Refuse, before it is opened, a file that resolves outside :attr:`trusted` (a symlink out of
        ``--root``), is no regular file (a FIFO, a device) or is bigger than ``max_bytes``."""
        try:
            resolved = Path(path).resolve(strict=True)
            info = resolved.stat()
        except (OSError, RuntimeError) as error:  # RuntimeError: a symlink loop (Python < 3.13)
            raise ReleaseFileError("unsafe_file", f"{path}: cannot be resolved ({error})") from None
        if not any(resolved.is_relative_to(folder) for folder in self.trusted):
            raise ReleaseFileError(
                "unsafe_file",
                f"{path}: a link to {resolved}, outside --root {self.root}; only files inside --root (or given with "
                "--images, --gray, --ins or --split-list) are read",
            )
        check_regular_file(path, info, max_bytes)

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
    release = get_subset(subset).release
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
    given = [*(images or ()), *(p for p in (gray, ins) if p is not None), *(split_lists or {}).values()]
    trusted = tuple(Path(p).resolve() for p in (root, *given))
    layout = ReleaseLayout(root, image_dirs, Path(gray), Path(ins), lists, trusted)
    for split, path in lists.items():
        if not SHARD_RE.match(f"{split}-r00-00000.parquet"):
            raise ValueError(f"--split-list {split}={path}: a split name is letters, digits and underscores")
        if not os.path.lexists(path):
            raise FileNotFoundError(f"--split-list {split}={path}: no such file")
        layout.check_file(path, MAX_LIST_BYTES)
    tiles = root / TILES_FILE
    if os.path.lexists(tiles):
        layout.check_file(tiles, MAX_LIST_BYTES)
        layout.origins.update(read_origins(tiles))
    return layout


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
    lists = {split: root / name for split, name in SPLIT_FILES.items() if os.path.lexists(root / name)}
    if not lists:
        raise FileNotFoundError(
            f"{root}: no split lists ({', '.join(SPLIT_FILES.values())}); "
            "give them with --split-list train=FILE --split-list validation=FILE"
        )
    return lists


def _text(path: Path) -> str:
    try:
        return read_regular_file(Path(path), MAX_LIST_BYTES).decode("utf-8")
    except UnicodeDecodeError as error:
        raise ReleaseFileError("bad_list", f"{path}: not UTF-8 text (byte {error.start})") from None


def read_split_list(path: Path) -> list[str]:
    """The names in a split list, one per line (blank lines skipped, duplicates kept once); a name is a
    file name without its suffix, so one holding a path separator, a NUL or only dots is refused."""
    names = {}
    for number, line in enumerate(_text(path).splitlines(), 1):
        name = line.strip()
        if name in (".", "..") or any(c in name for c in "/\\\0"):
            raise ReleaseFileError("bad_list", f"{path}, line {number}: {describe(name)} is not a file name")
        if name:
            names.setdefault(name)
    return list(names)


def read_origins(path: Path) -> dict[str, tuple[str, list[int]]]:
    """``NAME -> (source, [x0, y0])`` from a :data:`TILES_FILE`, checked entry by entry."""
    try:
        entries = json.loads(_text(path))
    except (ValueError, RecursionError) as error:
        raise ReleaseFileError("bad_list", f"{path}: not JSON ({clip(str(error))})") from None
    if type(entries) is not dict:
        raise ReleaseFileError("bad_list", f"{path}: not a JSON object of NAME: [source, x0, y0]")
    origins = {}
    for name, entry in entries.items():
        fine = type(entry) is list and len(entry) == 3 and type(entry[0]) is str and len(entry[0]) <= 4096
        if not (fine and all(type(v) is int and 0 <= v < 2**31 for v in entry[1:])):
            raise ReleaseFileError(
                "bad_list", f"{path}: {describe(name)} is not [source, x0, y0] (a path and two pixel offsets)"
            )
        origins[name] = (entry[0], entry[1:])
    return origins


def image_index(folders: tuple[Path, ...]) -> dict[str, Path]:
    """``NAME -> image file`` over ``folders`` (the first folder holding a name wins)."""
    index: dict[str, Path] = {}
    for folder in folders:
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() in IMAGE_SUFFIXES:
                index.setdefault(path.stem, path)
    return index
