"""Hand-made folders in the layout of the authors' SAMRS release, with the pkl fields' real types.

What the official code writes (ViTAE-Transformer/SAMRS, ``main_sam_{hbox,rhbox}_semantic.py``): a
``gray/`` mode-L PNG painted in instance order (a later mask overwrites), a ``color/`` PNG, and an
``ins/NAME.pkl`` list of dicts: ``mask`` = pycocotools RLE with ``counts`` decoded to str, ``category``
name, ``label`` int, ``size`` = ``np.sum`` of the boolean mask (numpy int64); SOTA ``bbox`` numpy
float64 ``[x1, y1, x2, y2]`` (SIOR float32); FAST ``rbox`` numpy float64 (4, 2) corners and ``rhbox``
float64. Key order of SOTA/SIOR as printed from the release (label last, added by ``script.py``).
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils

from samrs_hf.dataset.subsets import SAMRS_RELEASE_CLASSES
from samrs_hf.geometry import polygon_to_hbox, rasterize_polygon, rbox_to_polygon

SEGS = {"sota": "hbox_segs_init", "sior": "hbox_segs_trainvaltest_init", "fast": "rhbox_segs_init"}
IMAGES = {"sota": ("images", ".png"), "sior": ("JPEGImages-trainval", ".jpg"), "fast": ("images", ".png")}
HEIGHT, WIDTH = 48, 64


@dataclass
class Shape:
    """One instance to draw: a box ``[x1, y1, x2, y2]`` (or, for FAST, an rbox) filled as its mask, and its label."""

    label: int
    box: tuple[float, float, float, float] | None = None
    rbox: tuple[float, float, float, float, float] | None = None

    def corners(self) -> np.ndarray:
        if self.rbox is not None:
            return rbox_to_polygon(self.rbox)
        x1, y1, x2, y2 = self.box
        return np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], dtype=np.float64)

    def mask(self) -> np.ndarray:
        return rasterize_polygon(self.corners(), HEIGHT, WIDTH)


def rle(mask: np.ndarray) -> dict:
    """The official code's RLE: pycocotools ``encode`` with ``counts`` decoded to str."""
    encoded = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    encoded["counts"] = encoded["counts"].decode("ascii")
    return encoded


def instance(subset: str, shape: Shape, old: bool = False) -> dict:
    """The pkl dict of one instance; ``old``: an early pkl (``category`` = index, no ``label``)."""
    mask, name = shape.mask(), SAMRS_RELEASE_CLASSES[subset][shape.label]
    if subset == "fast":
        corners = shape.corners()
        rhbox = polygon_to_hbox(corners)
        return {"mask": rle(mask), "rbox": corners, "rhbox": rhbox, "category": name, "label": shape.label,
                "size": np.sum(mask)}  # fmt: skip
    box = np.array(shape.box, dtype=np.float32 if subset == "sior" else np.float64)
    if old:
        return {"mask": rle(mask), "bbox": box, "category": shape.label, "size": np.sum(mask)}
    return {"mask": rle(mask), "bbox": box, "category": name, "size": np.sum(mask), "label": shape.label}


def image(seed: int) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 255, (HEIGHT, WIDTH, 3), dtype=np.uint8))


def write_release(root: Path, subset: str, splits: dict[str, dict[str, list[Shape] | None]], old: bool = False) -> Path:
    """``root`` in the release layout: ``splits[list file][NAME]`` = shapes (``None``: no pkl) -> image, gray,
    color and pkl per NAME, and the split lists; returns ``root``."""
    folder, suffix = IMAGES[subset]
    segs = root / SEGS[subset]
    for sub in (root / folder, segs / "gray", segs / "color", segs / "ins"):
        sub.mkdir(parents=True, exist_ok=True)
    seed = 0
    for list_file, tiles in splits.items():
        (root / list_file).write_text("".join(f"{name}\n" for name in tiles))
        for name, shapes in tiles.items():
            seed += 1
            image(seed).save(root / folder / f"{name}{suffix}")
            gray = np.full((HEIGHT, WIDTH), 255, dtype=np.uint8)
            for shape in shapes or []:
                gray[shape.mask()] = shape.label
            Image.fromarray(gray).save(segs / "gray" / f"{name}.png")
            Image.fromarray(np.stack([gray] * 3, axis=-1)).save(segs / "color" / f"{name}.png")
            if shapes is not None:
                with open(segs / "ins" / f"{name}.pkl", "wb") as file:
                    pickle.dump([instance(subset, s, old) for s in shapes], file, protocol=4)
    return root


SOTA_TILES = {
    "train.txt": {
        "P0001__1024__0___0": [Shape(4, box=(4, 4, 40, 30)), Shape(5, box=(20, 10, 50, 40))],  # plane, then a ship
        "P0002__1024__824___0": [
            Shape(9, box=(0, 0, 12, 8)), Shape(9, box=(30, 20, 33, 25)), Shape(13, box=(40, 5, 60, 45)),
        ],
        "P0003__1024__0___824": None,  # listed, no pkl
    },
    "valid.txt": {"P0004__1024__0___0": [Shape(14, box=(10, 10, 60, 44))]},
}  # fmt: skip
"""A SOTA release: two train tiles with overlapping instances, a train tile without a pkl, one validation tile."""

FAST_TILES = {
    "train.txt": {
        "train_0__600__0___0": [Shape(29, rbox=(20, 20, 24, 10, 0.5)), Shape(23, rbox=(45, 30, 30, 12, -1.0))],
    },
    "valid.txt": {"valid_7__600__0___0": [Shape(36, rbox=(32, 24, 40, 16, 0.0))]},
}
"""A FAST release: rotated boxes (their corners are the pkl's ``rbox``, their bounds its ``rhbox``)."""
