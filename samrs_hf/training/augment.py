"""The SEP augmentations (official SAMRS recipe), on numpy arrays with PIL, one small function each.

Image: ``(H, W, 3)`` uint8; label: ``(H, W)`` uint8 with 255 = ignore. Every random choice comes
from the ``numpy.random.Generator`` passed in, so a sample's augmentation is reproducible from its
seed (this is what makes resumed training exact).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from PIL import Image, ImageEnhance

from samrs_hf.classes import IGNORE_INDEX

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)

Pair = tuple[np.ndarray, np.ndarray]


def random_scale(
    image: np.ndarray,
    label: np.ndarray,
    rng: np.random.Generator,
    scale: tuple[float, float] = (0.5, 2.0),
    p: float = 0.5,
) -> Pair:
    """With probability ``p``, resize by a factor in ``scale`` (bilinear image, nearest label)."""
    if rng.random() >= p:
        return image, label
    factor = rng.uniform(*scale)
    h, w = label.shape
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    image = np.asarray(Image.fromarray(image).resize(size, Image.BILINEAR))
    label = np.asarray(Image.fromarray(label).resize(size, Image.NEAREST))
    return image, label


def pad_to(image: np.ndarray, label: np.ndarray, size: int) -> Pair:
    """Pad bottom/right to at least ``size`` x ``size``: image with 0, label with 255."""
    h, w = label.shape
    ph, pw = max(0, size - h), max(0, size - w)
    if ph or pw:
        image = np.pad(image, ((0, ph), (0, pw), (0, 0)))
        label = np.pad(label, ((0, ph), (0, pw)), constant_values=IGNORE_INDEX)
    return image, label


def crop(image: np.ndarray, label: np.ndarray, top: int, left: int, size: int) -> Pair:
    return image[top : top + size, left : left + size], label[top : top + size, left : left + size]


def random_crop(image: np.ndarray, label: np.ndarray, size: int, rng: np.random.Generator) -> Pair:
    """A random ``size`` x ``size`` window (pad first if smaller)."""
    image, label = pad_to(image, label, size)
    h, w = label.shape
    return crop(image, label, int(rng.integers(h - size + 1)), int(rng.integers(w - size + 1)), size)


def center_crop(image: np.ndarray, label: np.ndarray, size: int) -> Pair:
    """The central ``size`` x ``size`` window (pad first if smaller): the validation transform."""
    image, label = pad_to(image, label, size)
    h, w = label.shape
    return crop(image, label, (h - size) // 2, (w - size) // 2, size)


def random_flip_rotate(image: np.ndarray, label: np.ndarray, rng: np.random.Generator) -> Pair:
    """Horizontal flip (p 0.5), vertical flip (p 0.5), then a rotation by k x 90 degrees, k in 0..3."""
    if rng.random() < 0.5:
        image, label = image[:, ::-1], label[:, ::-1]
    if rng.random() < 0.5:
        image, label = image[::-1], label[::-1]
    k = int(rng.integers(4))
    return np.rot90(image, k), np.rot90(label, k)


def _enhance(enhancer: type) -> Callable[[Image.Image, float], Image.Image]:
    return lambda image, factor: enhancer(image).enhance(factor)


def _gamma(image: Image.Image, gamma: float) -> Image.Image:
    lut = (255.0 * (np.arange(256) / 255.0) ** gamma).round().astype(np.uint8)
    return image.point(lut.tolist() * 3)


PHOTOMETRIC: dict[str, tuple[Callable[[Image.Image, float], Image.Image], tuple[float, float]]] = {
    "contrast": (_enhance(ImageEnhance.Contrast), (0.7, 1.3)),
    "gamma": (_gamma, (0.7, 1.5)),
    "brightness": (_enhance(ImageEnhance.Brightness), (0.7, 1.3)),
    "color": (_enhance(ImageEnhance.Color), (0.7, 1.3)),
}
"""One of these is applied with probability 0.3: name -> (function, factor range)."""


def random_photometric(image: np.ndarray, rng: np.random.Generator, p: float = 0.3) -> np.ndarray:
    """With probability ``p``, one of contrast / gamma / brightness / colour (saturation) jitter."""
    if rng.random() >= p:
        return image
    function, (low, high) = PHOTOMETRIC[list(PHOTOMETRIC)[int(rng.integers(len(PHOTOMETRIC)))]]
    return np.asarray(function(Image.fromarray(np.ascontiguousarray(image)), rng.uniform(low, high)))


def sep_train_transform(image: np.ndarray, label: np.ndarray, size: int, rng: np.random.Generator) -> Pair:
    """The SEP training pipeline: scale, pad, random crop, flips and rot90, photometric jitter."""
    image, label = random_scale(image, label, rng)
    image, label = random_crop(image, label, size, rng)
    image, label = random_flip_rotate(image, label, rng)
    return random_photometric(image, rng), label


def to_tensors(image: np.ndarray, label: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """ImageNet-normalised ``(3, H, W)`` float image and ``(H, W)`` int64 label."""
    pixels = (np.asarray(image, dtype=np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
    return torch.from_numpy(pixels.transpose(2, 0, 1).copy()), torch.from_numpy(np.array(label, dtype=np.int64))
