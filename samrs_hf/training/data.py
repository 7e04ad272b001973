"""Segmentation samples for training: SAMRS configs from ``datasets`` and per-step batches.

A *source* is anything with ``len()`` and ``source[i] -> (image (H, W, 3) uint8, label (H, W) uint8)``;
SAMRS configs (``HubSegSource``) and fine-tuning tiles (``samrs_hf.segdata``) are both sources.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

import numpy as np
import torch
from datasets import Dataset, load_dataset

from samrs_hf.classes import SAMRS_RELEASE_CLASSES
from samrs_hf.training.augment import center_crop, sep_train_transform, to_tensors
from samrs_hf.training.sampling import global_batch, shard

Batch = dict[str, tuple[torch.Tensor, torch.Tensor]]
"""Subset name -> (pixel values (n, 3, S, S), labels (n, S, S)); ``n`` may be 0."""


class SegSource(Protocol):
    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]: ...


class HubSegSource:
    """One split of a SAMRS config: its ``image`` and ``semantic_map`` columns as arrays."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset.select_columns(["image", "semantic_map"])

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        row = self.dataset[int(index)]
        return np.asarray(row["image"].convert("RGB")), np.asarray(row["semantic_map"].convert("L"))


def load_samrs(dataset: str, configs: Sequence[str], split: str) -> dict[str, HubSegSource]:
    """``load_dataset(dataset, config, split=split)`` for each config (local folder or Hub id)."""
    return {config: HubSegSource(load_dataset(dataset, config, split=split)) for config in configs}


def samrs_classes(configs: Sequence[str]) -> dict[str, list[str]]:
    """Head definitions for SAMRS configs: config -> class names in release (label-index) order."""
    unknown = [c for c in configs if c not in SAMRS_RELEASE_CLASSES]
    if unknown:
        raise ValueError(f"unknown SAMRS config(s) {unknown}; choose from {', '.join(SAMRS_RELEASE_CLASSES)}")
    return {config: list(SAMRS_RELEASE_CLASSES[config]) for config in configs}


def stack(samples: list[tuple[torch.Tensor, torch.Tensor]], size: int) -> tuple[torch.Tensor, torch.Tensor]:
    if not samples:
        return torch.empty(0, 3, size, size), torch.empty(0, size, size, dtype=torch.int64)
    images, labels = zip(*samples)
    return torch.stack(images), torch.stack(labels)


class StepBatches(torch.utils.data.Dataset):
    """Item ``m`` = this process's share of micro-step ``m`` (step ``m // accumulation``), augmented.

    Each sample's augmentation is seeded by ``(seed, step, subset, position in the global batch)``,
    so batches are reproducible, independent of the process count, and safe in DataLoader workers.
    """

    def __init__(self, sources: dict[str, SegSource], batch_sizes: dict[str, int], crop_size: int, seed: int,
                 process_index: int = 0, num_processes: int = 1, accumulation_steps: int = 1) -> None:
        self.sources, self.batch_sizes, self.crop_size, self.seed = sources, batch_sizes, crop_size, seed
        self.sizes = {name: len(source) for name, source in sources.items()}
        self.process_index, self.num_processes = process_index, num_processes
        self.accumulation_steps = accumulation_steps

    def __getitem__(self, micro_step: int) -> Batch:
        step, micro = divmod(micro_step, self.accumulation_steps)
        items = global_batch(step, self.sizes, self.batch_sizes, self.seed)
        shards = self.num_processes * self.accumulation_steps
        mine = shard(items, micro * self.num_processes + self.process_index, shards)
        subset_no = {name: i for i, name in enumerate(self.sources)}
        samples: dict[str, list] = {name: [] for name in self.sources}
        for name, index, position in mine:
            rng = np.random.default_rng([self.seed, step, subset_no[name], position])
            image, label = self.sources[name][index]
            samples[name].append(to_tensors(*sep_train_transform(image, label, self.crop_size, rng)))
        return {name: stack(pairs, self.crop_size) for name, pairs in samples.items()}


def eval_batches(source: SegSource, crop_size: int, batch_size: int, process_index: int = 0,
                 num_processes: int = 1, limit: int | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Centre crops of this process's share (every ``num_processes``-th) of the first ``limit`` samples."""
    indices = range(min(len(source), limit or len(source)))[process_index::num_processes]
    for start in range(0, len(indices), batch_size):
        pairs = [to_tensors(*center_crop(*source[i], crop_size)) for i in indices[start : start + batch_size]]
        yield stack(pairs, crop_size)
