"""The SEP augmentation: the window-only rescale gives the whole-tile rescale's pixels, and the random
choices follow the official recipe's distribution, seeded per sample."""

from __future__ import annotations

import numpy as np
import pytest

from samrs_hf.training.augment import (
    PHOTOMETRIC,
    SepChoices,
    draw_choices,
    scaled_crop,
    sep_train_transform,
    whole_tile_scaled_crop,
)


def noise_tile(height: int, width: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Uniform noise: any resampling difference shows (smooth images would hide off-by-one weights)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8), rng.integers(0, 256, (height, width), np.uint8)


@pytest.mark.parametrize(
    ("height", "width", "size"), [(1024, 1024, 224), (300, 200, 64), (97, 130, 64), (1024, 300, 224), (400, 150, 64)]
)
def test_window_rescale_equals_whole_tile_rescale(height, width, size):
    image, label = noise_tile(height, width, seed=height)
    rng = np.random.default_rng(width)
    scaled = 0
    for _ in range(12 if height == 1024 else 40):
        choices = draw_choices(height, width, size, rng, p_scale=0.9)
        scaled += (choices.scaled_height, choices.scaled_width) != (height, width)
        window = scaled_crop(image, label, choices, size)
        whole = whole_tile_scaled_crop(image, label, choices, size)
        assert np.array_equal(window[0], whole[0]) and np.array_equal(window[1], whole[1]), choices
        assert window[0].shape == (size, size, 3) and window[1].shape == (size, size)
    assert scaled >= 5


@pytest.mark.parametrize(
    ("scaled_height", "scaled_width", "top", "left"),
    [
        (1023, 1024, 799, 0),  # one side unchanged: vertical pass only
        (512, 511, 288, 287),  # smallest scale, the far corner
        (2048, 2048, 1824, 1824),  # largest scale, the far corner
        (2048, 2048, 0, 1),
        (137, 2000, 0, 1776),  # smaller than the crop in one side: padded; PIL resizes rows first
        (600, 1024, 100, 800),  # rows first, width unchanged
    ],
)
def test_window_rescale_at_the_edges(scaled_height, scaled_width, top, left):
    image, label = noise_tile(1024, 1024, seed=7)
    choices = SepChoices(scaled_height, scaled_width, top, left, False, False, 0, None)
    window, whole = scaled_crop(image, label, choices, 224), whole_tile_scaled_crop(image, label, choices, 224)
    assert np.array_equal(window[0], whole[0]) and np.array_equal(window[1], whole[1])


def test_window_rescale_reads_memory_maps(tmp_path):
    image, label = noise_tile(256, 256, seed=3)
    np.save(tmp_path / "image.npy", image)
    mapped = np.load(tmp_path / "image.npy", mmap_mode="r")
    choices = SepChoices(400, 400, 100, 150, True, False, 1, ("gamma", 1.2))
    assert np.array_equal(
        scaled_crop(mapped, label, choices, 64)[0], whole_tile_scaled_crop(image, label, choices, 64)[0]
    )


def test_transform_is_seeded_per_sample():
    image, label = noise_tile(256, 256, seed=1)
    first = sep_train_transform(image, label, 64, np.random.default_rng([5, 1, 0, 3]))
    again = sep_train_transform(image, label, 64, np.random.default_rng([5, 1, 0, 3]))
    other = sep_train_transform(image, label, 64, np.random.default_rng([5, 1, 0, 4]))
    whole = sep_train_transform(image, label, 64, np.random.default_rng([5, 1, 0, 3]), whole_tile=True)
    assert all(np.array_equal(a, b) for a, b in zip(first, again)) and not np.array_equal(first[0], other[0])
    assert all(np.array_equal(a, b) for a, b in zip(first, whole))


def binomial_ok(hits: int, n: int, p: float) -> bool:
    """Within 5 standard deviations of ``n * p`` (a false alarm about once in 3 million runs)."""
    return abs(hits - n * p) <= 5 * np.sqrt(n * p * (1 - p))


def test_choices_follow_the_recipe():
    n, size = 20_000, 224
    rng = np.random.default_rng(2024)
    draws = [draw_choices(1024, 1024, size, rng) for _ in range(n)]
    scaled = [c for c in draws if c.scaled_height != 1024]
    assert binomial_ok(len(scaled), n, 0.5)  # p 0.5 (a factor rounding back to 1024 is rarer than 1 in 1000)
    factors = np.array([c.scaled_width / 1024 for c in scaled])
    assert factors.min() >= 0.5 and factors.max() <= 2.0 and all(c.scaled_height == c.scaled_width for c in scaled)
    for quarter in (0.25, 0.5, 0.75):  # uniform on [0.5, 2]
        assert binomial_ok(int((factors < 0.5 + 1.5 * quarter).sum()), len(factors), quarter)
    relative_top = np.array([c.top / (c.scaled_height - size) for c in draws])  # uniform over the valid origins
    relative_left = np.array([c.left / (c.scaled_width - size) for c in draws])
    for relative in (relative_top, relative_left):
        assert relative.min() >= 0 and relative.max() <= 1 and binomial_ok(int((relative < 0.5).sum()), n, 0.5)
    assert binomial_ok(sum(c.hflip for c in draws), n, 0.5) and binomial_ok(sum(c.vflip for c in draws), n, 0.5)
    assert binomial_ok(sum(c.hflip and c.vflip for c in draws), n, 0.25)  # independent
    for k in range(4):
        assert binomial_ok(sum(c.rotations == k for c in draws), n, 0.25)
    jittered = [c.photometric for c in draws if c.photometric]
    assert binomial_ok(len(jittered), n, 0.3)
    for name, (_, (low, high)) in PHOTOMETRIC.items():
        factors = [factor for kind, factor in jittered if kind == name]
        assert binomial_ok(len(factors), n, 0.3 / 4) and low <= min(factors) and max(factors) <= high


def test_small_tiles_pad_and_place_the_crop_at_the_origin():
    rng = np.random.default_rng(0)
    draws = [draw_choices(100, 600, 224, rng, scale=(0.5, 0.6), p_scale=1.0) for _ in range(50)]
    assert all(c.top == 0 for c in draws) and any(c.left > 0 for c in draws)  # 50-60 rows: only origin 0
    image, label = noise_tile(100, 600, seed=0)
    out_image, out_label = scaled_crop(image, label, draws[0], 224)
    rows = draws[0].scaled_height
    assert (out_label[rows:] == 255).all() and (out_image[rows:] == 0).all() and (out_label[:rows] != 255).any()
