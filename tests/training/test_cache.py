"""The decoded training cache: same arrays as the PNGs, found by default, checked against its split,
cheap to send to DataLoader workers, and the same batches with or without it."""

from __future__ import annotations

import logging
import pickle

import datasets
import numpy as np
import pytest
import torch
from datasets import load_dataset
from samrs_folders import TINY_SIZES
from torch.utils.data import DataLoader

from samrs_hf.cli import main
from samrs_hf.training.cache import CachedSegSource, HubSegSource, open_cache, split_folder
from samrs_hf.training.cache_writer import write_cache
from samrs_hf.training.data import StepBatches, eval_batches, load_samrs


@pytest.fixture(scope="module")
def cache_dir(samrs_dir, tmp_path_factory):
    """Every config and split of the tiny SAMRS folder, cached with ``samrs prepare-training --out``."""
    out = tmp_path_factory.mktemp("cache")
    assert (
        main(
            [
                "prepare-training",
                str(samrs_dir),
                "--configs",
                "sota",
                "sior",
                "fast",
                "--out",
                str(out),
                "--workers",
                "1",
            ]
        )
        == 0
    )
    return out


def test_cache_holds_the_decoded_pngs(samrs_dir, cache_dir, capsys):
    for config, splits in TINY_SIZES.items():
        for split in ("train", "validation"):
            if split not in splits:
                assert not split_folder(cache_dir, config, split).exists()  # FAST has no validation split
                continue
            rows = load_dataset(str(samrs_dir), config, split=split)
            cached, decoded = open_cache(split_folder(cache_dir, config, split), rows), HubSegSource(rows)
            assert len(cached) == len(decoded) == splits[split]
            for index in range(len(cached)):
                (image, label), (png_image, png_label) = cached[index], decoded[index]
                assert np.array_equal(image, png_image) and np.array_equal(label, png_label)
                assert not image.flags.writeable


def test_parallel_writers_write_the_same_files(samrs_dir, cache_dir, tmp_path):
    rows = load_dataset(str(samrs_dir), "fast", split="train")
    folder = write_cache(rows, tmp_path / "fast" / "train", workers=2)
    for name in ("tiles.npy", "images.npy", "labels.npy", "meta.json"):
        assert (folder / name).read_bytes() == (split_folder(cache_dir, "fast", "train") / name).read_bytes()
    assert not (tmp_path / "fast" / "train.tmp").exists()


def test_load_samrs_uses_the_cache_and_hints_without_it(samrs_dir, cache_dir, tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "hf"))
    with caplog.at_level(logging.WARNING):
        plain = load_samrs(str(samrs_dir), ["sota", "fast"], "train")
    assert all(isinstance(source, HubSegSource) for source in plain.values())
    (hint,) = [r.getMessage() for r in caplog.records if "training cache" in r.getMessage()]
    assert "samrs prepare-training" in hint and "sota fast" in hint and "\n" not in hint

    caplog.clear()
    assert main(["prepare-training", str(samrs_dir), "--configs", "sota", "--splits", "train", "--workers", "1"]) == 0
    with caplog.at_level(logging.WARNING):
        found = load_samrs(str(samrs_dir), ["sota"], "train")  # the default folder, no argument
    assert isinstance(found["sota"], CachedSegSource) and not caplog.records

    given = load_samrs(str(samrs_dir), ["sota", "fast"], "train", cache=cache_dir)
    assert all(isinstance(source, CachedSegSource) for source in given.values())
    sizes = {"sota": 2, "fast": 3}  # the same training batches and validation crops either way
    assert_same_batches(StepBatches(plain, sizes, 32, seed=1)[0], StepBatches(given, sizes, 32, seed=1)[0])
    for a, b in zip(eval_batches(plain["sota"], 32, 4), eval_batches(given["sota"], 32, 4)):
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def assert_same_batches(first: dict, second: dict) -> None:
    assert first.keys() == second.keys()
    for name in first:
        assert torch.equal(first[name][0], second[name][0]) and torch.equal(first[name][1], second[name][1])


def test_a_cache_of_another_split_is_refused(samrs_dir, cache_dir, tmp_path):
    sior = load_dataset(str(samrs_dir), "sior", split="train")
    with pytest.raises(ValueError, match="another version of this split"):
        open_cache(split_folder(cache_dir, "sota", "train"), sior)
    with pytest.raises(FileNotFoundError, match="prepare-training"):
        load_samrs(str(samrs_dir), ["sota"], "train", cache=tmp_path / "empty")


def test_workers_map_the_cache_and_make_the_same_batches(samrs_dir, cache_dir):
    sources = load_samrs(str(samrs_dir), ["sota", "sior", "fast"], "train", cache=cache_dir)
    sources["sota"][0]  # maps the files in this process
    assert len(pickle.dumps(sources["sota"])) < 2000  # the folder and tile table, not the pixels
    batches = StepBatches(sources, {"sota": 2, "sior": 1, "fast": 2}, 32, seed=3)
    in_process = [batches[step] for step in range(4)]
    loader = DataLoader(batches, batch_size=None, num_workers=2, sampler=range(4))
    for expected, batch in zip(in_process, loader):
        assert_same_batches(expected, batch)
    assert not torch.equal(in_process[0]["sota"][0], in_process[1]["sota"][0])


def test_a_row_whose_size_disagrees_with_its_pixels_is_named(samrs_dir, tmp_path):
    rows = load_dataset(str(samrs_dir), "sior", split="train")
    wrong = rows.map(lambda row, index: {"width": row["width"] + index}, with_indices=True)  # row 1: 65 wide
    with pytest.raises(ValueError, match=r"row 1 \(S1__64__0___0\).*65 x 64"):
        write_cache(wrong, tmp_path / "sior" / "train")
    assert not (tmp_path / "sior" / "train").exists()
