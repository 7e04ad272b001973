"""The release's layout and formats: per-subset file formats and label folders, its palette, its errors,
and finding its parts on disk (``find_layout``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from samrs_hf.dataset.shards import SHARD_RE

RELEASE_SOURCE = "samrs-release"
"""``source`` of an imported subset's recorded settings (the card says "Imported from the authors' SAMRS release")."""

SPLIT_FILES = {"train": "train.txt", "validation": "valid.txt"}
"""Dataset split -> the release's split list at the subset root."""

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


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


def image_index(folders: tuple[Path, ...]) -> dict[str, Path]:
    """``NAME -> image file`` over ``folders`` (the first folder holding a name wins)."""
    index: dict[str, Path] = {}
    for folder in folders:
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() in IMAGE_SUFFIXES:
                index.setdefault(path.stem, path)
    return index
