"""Proportional sampling, augmentations, per-step batches and the SAMRS folder loader."""

from __future__ import annotations

import numpy as np
import torch
from samrs_folders import TINY_SIZES

from samrs_hf.dataset.subsets import SUBSETS
from samrs_hf.training.augment import SepChoices, center_crop, flip_rotate, pad_to, sep_train_transform
from samrs_hf.training.data import StepBatches, load_samrs
from samrs_hf.training.sampling import global_batch, proportional_batch_sizes, sequence_indices


def test_batch_sizes_follow_the_formula():
    paper = {name: recipe.sep_images for name, recipe in SUBSETS.items()}
    assert sum(paper.values()) == 93_352  # SOTA 17,480 + SIOR trainval 11,725 + FAST 64,147
    assert proportional_batch_sizes(96, paper) == {"sota": 17, "sior": 12, "fast": 65}  # int(96 * L_i / 93,352)
    assert proportional_batch_sizes(10, {"a": 1000, "b": 10, "c": 90}) == {"a": 9, "b": 1, "c": 1}  # b: at least 1


def test_sequence_covers_each_epoch_once():
    first_two_epochs = sequence_indices(7, seed=3, start=0, count=14)
    assert sorted(first_two_epochs[:7]) == list(range(7)) and sorted(first_two_epochs[7:]) == list(range(7))
    assert np.array_equal(sequence_indices(7, 3, 5, 6), first_two_epochs[5:11])  # any window, same values


def test_global_batch_independent_of_sharding():
    sizes, batch_sizes = {"a": 5, "b": 3}, {"a": 3, "b": 1}
    items = global_batch(2, sizes, batch_sizes, seed=0)
    assert [name for name, _, _ in items] == ["a", "a", "a", "b"]


def test_load_samrs_folder(samrs_dir):
    sources = load_samrs(str(samrs_dir), ["sota", "fast"], "train")
    assert {k: len(v) for k, v in sources.items()} == {k: TINY_SIZES[k]["train"] for k in ("sota", "fast")}
    image, label = sources["sota"][0]
    assert image.shape == (64, 64, 3) and label.shape == (64, 64) and (label == 255).any()


def test_step_batches_shard_the_global_batch(samrs_dir):
    sources = load_samrs(str(samrs_dir), ["sota", "sior", "fast"], "train")
    sizes = {"sota": 2, "sior": 1, "fast": 3}
    whole = StepBatches(sources, sizes, 32, seed=0)[1]
    assert {k: len(v[0]) for k, v in whole.items()} == sizes
    halves = [StepBatches(sources, sizes, 32, 0, process_index=p, num_processes=2)[1] for p in range(2)]
    for name in sizes:  # the two processes' shares together are the single-process batch
        merged = torch.cat([half[name][1] for half in halves])
        assert sorted(merged.reshape(len(merged), -1).sum(1).tolist()) == sorted(
            whole[name][1].reshape(sizes[name], -1).sum(1).tolist()
        )
    again = StepBatches(sources, sizes, 32, seed=0)[1]
    assert all(torch.equal(whole[k][0], again[k][0]) for k in sizes)  # reproducible augmentation


def test_augment_keeps_image_and_label_aligned():
    rng = np.random.default_rng(0)
    label = np.arange(64 * 64, dtype=np.int64).reshape(64, 64) % 251
    image = np.repeat(label[..., None], 3, axis=2).astype(np.uint8)
    for hflip, vflip, rotations in [(True, False, 1), (False, True, 2), (True, True, 3)]:
        choices = SepChoices(64, 64, 0, 0, hflip, vflip, rotations, None)
        flipped, flipped_label = flip_rotate(image, label.astype(np.uint8), choices)
        assert np.array_equal(flipped[..., 0], flipped_label)
    for _ in range(10):
        out_image, out_label = sep_train_transform(image, label.astype(np.uint8), 32, rng)
        assert out_image.shape == (32, 32, 3) and out_label.shape == (32, 32)
        known = out_label != 255  # padding; elsewhere the nearest label is one of the source values
        assert set(np.unique(out_label[known])) <= set(np.unique(label))


def test_pad_and_center_crop():
    image, label = np.ones((10, 20, 3), np.uint8), np.zeros((10, 20), np.uint8)
    padded_image, padded_label = pad_to(image, label, 16)
    assert padded_label.shape == (16, 20) and (padded_label[10:] == 255).all() and (padded_image[10:] == 0).all()
    crop_image, crop_label = center_crop(image, label, 8)
    assert crop_label.shape == (8, 8) and crop_image.shape == (8, 8, 3)
    grid = np.arange(10 * 20).reshape(10, 20)
    _, centre = center_crop(np.zeros((10, 20, 3), np.uint8), grid, 8)  # offsets (10 - 8) // 2, (20 - 8) // 2
    assert np.array_equal(centre, grid[1:9, 6:14])
    _, padded = center_crop(np.zeros((10, 20, 3), np.uint8), grid.astype(np.uint8), 12)  # taller than the tile
    assert np.array_equal(padded[:10], grid[:, 4:16]) and (padded[10:] == 255).all()
