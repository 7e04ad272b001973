"""Fine-tuning datasets: ISPRS Potsdam and iSAID semantic labels, read in their released formats.

Layouts found under ``root`` (checked in this order):

* mmsegmentation's converted crops: ``img_dir/{split}/*.png`` with ``ann_dir/{split}/<stem>.png``
  (Potsdam) or ``<stem>_instance_color_RGB.png`` (iSAID) index PNGs; a flat ``img_dir/*.png`` +
  ``ann_dir/`` without split folders (mmsegmentation's test samples) serves every split;
* Potsdam as released by ISPRS: ``2_Ortho_RGB/top_potsdam_<id>_RGB.tif`` with
  ``5_Labels_all_noBoundary/`` (or ``5_Labels_all/``) ``top_potsdam_<id>_label*.tif`` colour labels,
  split by tile id as mmsegmentation's converter does;
* iSAID as released: ``{split}/images/<stem>.png`` with
  ``{split}/Semantic_masks/images/<stem>_instance_color_RGB.png`` colour labels.

Colour labels are decoded with each dataset's colour table; index labels follow mmsegmentation
(Potsdam: 0 = boundary/ignore, 1..6 = classes; iSAID: 0..15 with 0 = background). Every label
becomes class indices 0..C-1 with 255 = ignore. Large scenes are cut into tiles.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from samrs_hf.classes import IGNORE_INDEX
from samrs_hf.records import load_pixels, open_image

__all__ = ["DATASETS", "ISAID", "POTSDAM", "LabeledScene", "SegDatasetSpec", "decode_label", "find_scenes"]

Color = tuple[int, int, int]


@dataclass(frozen=True)
class SegDatasetSpec:
    """Classes, label colours and evaluation rules of one fine-tuning dataset."""

    name: str
    classes: tuple[str, ...]
    colors: dict[Color, int]
    """RGB colour in released labels -> class index (``IGNORE_INDEX`` for ignored colours)."""
    reduce_zero_label: bool
    """Index PNGs use 0 for ignore and 1..C for the classes (mmsegmentation's Potsdam)."""
    exclude: tuple[int, ...]
    """Classes left out of the reported means (and, for OA, of the ground truth)."""
    things: tuple[int, ...]
    """Classes of countable objects, whose connected regions are instances (``samrs train-sam``)."""
    label_suffixes: tuple[str, ...]
    metrics: tuple[str, ...]
    """Reported scores: names from ``samrs_hf.metrics.segmentation_scores`` (``F1`` / ``IoU``: per class)."""
    splits: dict[str, tuple[str, ...]] | None = None
    """Scene ids per split for the released (whole-scene) layout."""


POTSDAM = SegDatasetSpec(
    name="potsdam",
    classes=("impervious_surface", "building", "low_vegetation", "tree", "car", "clutter"),
    colors={
        (255, 255, 255): 0,
        (0, 0, 255): 1,
        (0, 255, 255): 2,
        (0, 255, 0): 3,
        (255, 255, 0): 4,
        (255, 0, 0): 5,
        (0, 0, 0): IGNORE_INDEX,
    },  # black: eroded boundary in *_noBoundary labels
    reduce_zero_label=True,
    exclude=(5,),  # clutter
    things=(1, 4),  # building, car
    label_suffixes=("",),
    metrics=("OA", "F1", "mF1"),
    splits={  # mmsegmentation tools/dataset_converters/potsdam.py
        "train": (
            "2_10",
            "2_11",
            "2_12",
            "3_10",
            "3_11",
            "3_12",
            "4_10",
            "4_11",
            "4_12",
            "5_10",
            "5_11",
            "5_12",
            "6_10",
            "6_11",
            "6_12",
            "6_7",
            "6_8",
            "6_9",
            "7_10",
            "7_11",
            "7_12",
            "7_7",
            "7_8",
            "7_9",
        ),
        "val": (
            "5_15",
            "6_15",
            "6_13",
            "3_13",
            "4_14",
            "6_14",
            "5_14",
            "2_13",
            "4_15",
            "2_14",
            "5_13",
            "4_13",
            "3_14",
            "7_13",
        ),
    },
)

_ISAID_PALETTE: tuple[Color, ...] = (
    (0, 0, 0),
    (0, 0, 63),
    (0, 63, 63),
    (0, 63, 0),
    (0, 63, 127),
    (0, 63, 191),
    (0, 63, 255),
    (0, 127, 63),
    (0, 127, 127),
    (0, 0, 127),
    (0, 0, 191),
    (0, 0, 255),
    (0, 191, 127),
    (0, 127, 191),
    (0, 127, 255),
    (0, 100, 155),
)
ISAID = SegDatasetSpec(
    name="isaid",
    classes=(
        "background",
        "ship",
        "store_tank",
        "baseball_diamond",
        "tennis_court",
        "basketball_court",
        "Ground_Track_Field",
        "Bridge",
        "Large_Vehicle",
        "Small_Vehicle",
        "Helicopter",
        "Swimming_pool",
        "Roundabout",
        "Soccer_ball_field",
        "plane",
        "Harbor",
    ),  # mmsegmentation's iSAIDDataset order
    colors={color: index for index, color in enumerate(_ISAID_PALETTE)},
    reduce_zero_label=False,
    exclude=(0,),  # mIoU over the 15 object classes
    things=tuple(range(1, 16)),
    label_suffixes=("_instance_color_RGB", ""),
    metrics=("IoU", "mIoU"),
)

DATASETS = {"potsdam": POTSDAM, "isaid": ISAID}


@dataclass(frozen=True)
class LabeledScene:
    """An image file and its label file."""

    image: Path
    label: Path


def _label_beside(folder: Path, stem: str, spec: SegDatasetSpec) -> Path:
    for suffix in spec.label_suffixes:
        if (path := folder / f"{stem}{suffix}.png").is_file():
            return path
    names = ", ".join(f"{stem}{suffix}.png" for suffix in spec.label_suffixes)
    raise FileNotFoundError(f"no label for {stem} in {folder} (looked for {names})")


def _potsdam_released(root: Path, split: str, spec: SegDatasetSpec) -> list[LabeledScene]:
    label_dir = next((root / d for d in ("5_Labels_all_noBoundary", "5_Labels_all") if (root / d).is_dir()), None)
    if label_dir is None:
        raise FileNotFoundError(f"{root}: 2_Ortho_RGB/ found but no 5_Labels_all_noBoundary/ or 5_Labels_all/")
    if split not in spec.splits:
        raise ValueError(f"unknown Potsdam split {split!r}; choose from {', '.join(spec.splits)}")
    scenes = []
    for tile in spec.splits[split]:
        image = root / "2_Ortho_RGB" / f"top_potsdam_{tile}_RGB.tif"
        labels = sorted(label_dir.glob(f"top_potsdam_{tile}_label*.tif"))
        if image.is_file() and labels:
            scenes.append(LabeledScene(image, labels[0]))
        elif image.is_file() or labels:
            raise FileNotFoundError(f"Potsdam tile {tile}: {image if not image.is_file() else label_dir} is missing")
    return scenes


def find_scenes(root: str | Path, split: str, spec: SegDatasetSpec) -> list[LabeledScene]:
    """Image/label pairs of ``split`` under ``root`` in any supported layout (see the module docstring)."""
    root = Path(root)
    if (root / "img_dir").is_dir():
        sub = split if (root / "img_dir" / split).is_dir() else ""
        images = sorted((root / "img_dir" / sub).glob("*.png"))
        scenes = [LabeledScene(p, _label_beside(root / "ann_dir" / sub, p.stem, spec)) for p in images]
    elif spec is POTSDAM and (root / "2_Ortho_RGB").is_dir():
        scenes = _potsdam_released(root, split, spec)
    elif (root / split / "images").is_dir():
        images = sorted((root / split / "images").glob("*.png"))
        scenes = [
            LabeledScene(p, _label_beside(root / split / "Semantic_masks" / "images", p.stem, spec)) for p in images
        ]
    else:
        raise FileNotFoundError(
            f"{root}: no {spec.name} layout found for split {split!r}: expected img_dir/ + ann_dir/ "
            f"(mmsegmentation), 2_Ortho_RGB/ + 5_Labels_all_noBoundary/ (Potsdam as released) or {split}/images/ "
            "(iSAID as released); see 'Fine-tuning input' in README.md"
        )
    if not scenes:
        raise FileNotFoundError(f"{root}: no {spec.name} images for split {split!r}")
    return scenes


def _decode_colors(rgb: np.ndarray, spec: SegDatasetSpec, path: Path) -> np.ndarray:
    codes = (rgb[..., 0].astype(np.int64) << 16) | (rgb[..., 1].astype(np.int64) << 8) | rgb[..., 2]
    unique, inverse = np.unique(codes, return_inverse=True)
    table = {r << 16 | g << 8 | b: index for (r, g, b), index in spec.colors.items()}
    unknown = [int(c) for c in unique if int(c) not in table]
    if unknown:
        c = unknown[0]
        raise ValueError(f"{path}: colour {(c >> 16, c >> 8 & 255, c & 255)} is not a {spec.name} label colour")
    return np.array([table[int(c)] for c in unique], dtype=np.uint8)[inverse.reshape(codes.shape)]


def _decode_indices(values: np.ndarray, spec: SegDatasetSpec, path: Path) -> np.ndarray:
    values = values.astype(np.int64)
    if spec.reduce_zero_label:
        values = np.where(values == 0, IGNORE_INDEX + 1, values) - 1
    bad = (values >= len(spec.classes)) & (values != IGNORE_INDEX)
    if bad.any():
        raw = int(values[bad][0]) + int(spec.reduce_zero_label)
        raise ValueError(f"{path}: label value {raw} is not a {spec.name} class index")
    return values.astype(np.uint8)


def decode_label(path: Path, spec: SegDatasetSpec) -> np.ndarray:
    """Class indices (uint8, 255 = ignore) from a colour (RGB) or index (L / P mode) label image;
    :class:`~samrs_hf.records.ImageReadError` naming ``path`` when it cannot be read."""
    with open_image(path) as image:
        load_pixels(image, path)
        if image.mode in ("RGB", "RGBA"):
            return _decode_colors(np.asarray(image.convert("RGB")), spec, path)
        if image.mode not in ("L", "P"):
            raise ValueError(f"{path}: unsupported label image mode {image.mode}")
        return _decode_indices(np.asarray(image), spec, path)
