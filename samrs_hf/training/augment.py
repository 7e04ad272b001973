"""The SEP augmentations (official SAMRS recipe), on numpy arrays with PIL.

Image: ``(H, W, 3)`` uint8; label: ``(H, W)`` uint8 with 255 = ignore. A sample's random choices
(:class:`SepChoices`) are all drawn from the ``numpy.random.Generator`` passed in, in the recipe's
order, so its augmentation is reproducible from its seed (this is what makes resumed training exact).

The random scale is applied to the crop window only (:func:`scaled_crop`): the rows and columns of
the tile that the 224 window of the rescaled tile depends on are resampled with the same PIL
filters, which gives the same pixels as rescaling the whole tile and cropping
(:func:`whole_tile_scaled_crop`, the plain way), at a fraction of the cost, and reads only that part
of a memory-mapped tile.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from PIL import Image, ImageEnhance

from samrs_hf.classes import IGNORE_INDEX
from samrs_hf.training.image_processing import SepImageProcessor

IMAGENET_MEAN = np.array(SepImageProcessor.image_mean, dtype=np.float32)
IMAGENET_STD = np.array(SepImageProcessor.image_std, dtype=np.float32)
NORMALISED = ((np.arange(256, dtype=np.float32)[:, None] / 255.0 - IMAGENET_MEAN) / IMAGENET_STD).T.copy()
"""``NORMALISED[c, v]``: grey level ``v`` of channel ``c`` as ``(v / 255 - mean) / std`` in float32."""

Pair = tuple[np.ndarray, np.ndarray]


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


@dataclass(frozen=True)
class SepChoices:
    """The random choices of one training sample: the tile's size after the random scale, the crop
    origin in the scaled (and padded) tile, flips, quarter turns and the photometric jitter."""

    scaled_height: int
    scaled_width: int
    top: int
    left: int
    hflip: bool
    vflip: bool
    rotations: int
    photometric: tuple[str, float] | None


def draw_choices(
    height: int,
    width: int,
    size: int,
    rng: np.random.Generator,
    scale: tuple[float, float] = (0.5, 2.0),
    p_scale: float = 0.5,
    p_photometric: float = 0.3,
) -> SepChoices:
    """Draw a sample's choices for a ``height`` x ``width`` tile and ``size`` crops, in the recipe's order:
    scale (with ``p_scale``, a factor uniform in ``scale``; sides rounded), crop origin (uniform over the
    scaled tile padded to ``size``), horizontal and vertical flips (p 0.5 each), k x 90 degrees (k uniform
    in 0..3), and with ``p_photometric`` one of :data:`PHOTOMETRIC` with a factor uniform in its range."""
    if rng.random() < p_scale:
        factor = rng.uniform(*scale)
        height, width = max(1, round(height * factor)), max(1, round(width * factor))
    top = int(rng.integers(max(height, size) - size + 1))
    left = int(rng.integers(max(width, size) - size + 1))
    hflip, vflip = bool(rng.random() < 0.5), bool(rng.random() < 0.5)
    rotations = int(rng.integers(4))
    photometric = None
    if rng.random() < p_photometric:
        name = list(PHOTOMETRIC)[int(rng.integers(len(PHOTOMETRIC)))]
        photometric = (name, float(rng.uniform(*PHOTOMETRIC[name][1])))
    return SepChoices(height, width, top, left, hflip, vflip, rotations, photometric)


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


def center_crop(image: np.ndarray, label: np.ndarray, size: int) -> Pair:
    """The central ``size`` x ``size`` window (padded if smaller): the validation transform."""
    h, w = label.shape
    top, left = max(0, h - size) // 2, max(0, w - size) // 2
    return pad_to(*crop(image, label, top, left, size), size)


def whole_tile_scaled_crop(image: np.ndarray, label: np.ndarray, choices: SepChoices, size: int) -> Pair:
    """Rescale the whole tile (PIL bilinear image, nearest label), pad to ``size``, crop: the plain way."""
    scaled = (choices.scaled_width, choices.scaled_height)
    if scaled != image.shape[1::-1]:
        image = np.asarray(Image.fromarray(image).resize(scaled, Image.BILINEAR))
        label = np.asarray(Image.fromarray(label).resize(scaled, Image.NEAREST))
    return crop(*pad_to(image, label, size), choices.top, choices.left, size)


@lru_cache(maxsize=4096)
def nearest_indices(length: int, scaled: int) -> np.ndarray:
    """Source index of each of ``scaled`` samples in PIL's nearest resize of ``length`` samples
    (PIL itself resizes ``0..length-1``, so the indices are its own)."""
    ramp = Image.fromarray(np.arange(length, dtype=np.int32)[None])
    indices = np.array(ramp.resize((scaled, 1), Image.NEAREST))[0]
    indices.flags.writeable = False
    return indices


def support(start: int, stop: int, length: int, scaled: int) -> tuple[int, int]:
    """Source range ``[first, last)`` that PIL's bilinear resize of ``length`` to ``scaled`` samples reads
    for output samples ``start..stop-1``: a sample at ``c = (i + 0.5) x length / scaled`` reads
    ``c +- max(1, length / scaled)``; two more samples each side are kept as a margin."""
    ratio = length / scaled
    margin = math.ceil(max(1.0, ratio)) + 2
    return max(0, math.floor(start * ratio) - margin), min(length, math.ceil(stop * ratio) + margin)


def vertical_pass_first(height: int, width: int, new_height: int, new_width: int) -> bool:
    """Whether PIL (>= 13) resizes rows before columns: when the height shrinks by more than twice as many
    pixels as the width (``ImagingResampleInner``); otherwise columns (the horizontal pass) first."""
    return height - new_height > 0 and height - new_height > 2 * (width - new_width)


def bilinear_window(image: np.ndarray, top: int, left: int, h: int, w: int, new_h: int, new_w: int) -> np.ndarray:
    """Rows ``top..top+h``, columns ``left..left+w`` of PIL's bilinear resize of ``image`` to ``new_h`` x
    ``new_w`` with the horizontal pass first, from the rows that window depends on.

    Each PIL pass rounds to uint8 and uses coefficients that depend only on the input and output lengths,
    so: the horizontal pass over the source rows the window needs (full width: the same coefficients),
    the window's columns placed at their rows in a full-height strip, the vertical pass over the strip
    (full height: the same coefficients).
    """
    height, width = image.shape[:2]
    first, last = support(top, top + h, height, new_h)
    rows = np.ascontiguousarray(image[first:last])
    if new_w != width:
        rows = np.asarray(Image.fromarray(rows).resize((new_w, last - first), Image.BILINEAR))
    strip = np.zeros((height, w, 3), np.uint8)
    strip[first:last] = rows[:, left : left + w]
    return np.asarray(Image.fromarray(strip).resize((w, new_h), Image.BILINEAR))[top : top + h]


def scaled_crop(image: np.ndarray, label: np.ndarray, choices: SepChoices, size: int) -> Pair:
    """The same pixels as :func:`whole_tile_scaled_crop`, read and resampled from the window's support only
    (e.g. of memory-mapped arrays): :func:`bilinear_window` for the image, in PIL's pass order (a transposed
    image when rows go first), and PIL's own nearest indices for the label."""
    height, width = label.shape
    new_h, new_w, top, left = choices.scaled_height, choices.scaled_width, choices.top, choices.left
    h, w = min(size, new_h - top), min(size, new_w - left)
    if (new_h, new_w) == (height, width):
        return pad_to(*crop(image, label, top, left, size), size)
    rows, columns = nearest_indices(height, new_h)[top : top + h], nearest_indices(width, new_w)[left : left + w]
    window_label = label[np.ix_(rows, columns)]
    if vertical_pass_first(height, width, new_h, new_w):
        window_image = bilinear_window(image.swapaxes(0, 1), left, top, w, h, new_w, new_h).swapaxes(0, 1)
    else:
        window_image = bilinear_window(image, top, left, h, w, new_h, new_w)
    return pad_to(window_image, window_label, size)


def flip_rotate(image: np.ndarray, label: np.ndarray, choices: SepChoices) -> Pair:
    """Horizontal flip, vertical flip, then ``rotations`` quarter turns (as chosen)."""
    if choices.hflip:
        image, label = image[:, ::-1], label[:, ::-1]
    if choices.vflip:
        image, label = image[::-1], label[::-1]
    return np.rot90(image, choices.rotations), np.rot90(label, choices.rotations)


def photometric(image: np.ndarray, choices: SepChoices) -> np.ndarray:
    """The chosen contrast / gamma / brightness / colour (saturation) jitter, if any."""
    if choices.photometric is None:
        return image
    name, factor = choices.photometric
    return np.asarray(PHOTOMETRIC[name][0](Image.fromarray(np.ascontiguousarray(image)), factor))


def sep_train_transform(
    image: np.ndarray, label: np.ndarray, size: int, rng: np.random.Generator, whole_tile: bool = False
) -> Pair:
    """The SEP training pipeline: scale, pad, random crop, flips and rot90, photometric jitter.

    ``whole_tile=True`` rescales the whole tile before cropping: the same output, several times slower.
    """
    choices = draw_choices(*label.shape, size, rng)
    image, label = (whole_tile_scaled_crop if whole_tile else scaled_crop)(image, label, choices, size)
    image, label = flip_rotate(image, label, choices)
    return photometric(image, choices), label


def to_tensors(image: np.ndarray, label: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """ImageNet-normalised ``(3, H, W)`` float image (looked up in :data:`NORMALISED`) and ``(H, W)`` int64 label."""
    pixels = np.empty((3, *image.shape[:2]), dtype=np.float32)
    for channel in range(3):
        np.take(NORMALISED[channel], image[..., channel], out=pixels[channel])
    return torch.from_numpy(pixels), torch.from_numpy(np.array(label, dtype=np.int64))
