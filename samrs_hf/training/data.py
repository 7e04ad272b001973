"""Segmentation samples for training: SAMRS configs from ``datasets``, fine-tuning tiles, per-step batches.

A *source* is anything with ``len()`` and ``source[i] -> (image (H, W, 3) uint8, label (H, W) uint8)``;
SAMRS configs (:class:`HubSegSource`, or :class:`~samrs_hf.training.cache.CachedSegSource` when a decoded
training cache exists) and tiles of fine-tuning scenes (:class:`SceneTiles`, from
:mod:`samrs_hf.sources.segmentation`) are all sources.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from samrs_hf.dataset.folder import load_subset
from samrs_hf.dataset.subsets import SUBSETS
from samrs_hf.geometry import sliding_windows
from samrs_hf.records import open_rgb, read_size
from samrs_hf.sources.segmentation import LabeledScene, SegDatasetSpec, decode_label
from samrs_hf.training.augment import Pair, center_crop, sep_train_transform, to_tensors
from samrs_hf.training.cache import HubSegSource, default_cache_dir, open_cache, split_folder
from samrs_hf.training.sampling import global_batch, shard

logger = logging.getLogger(__name__)

Batch = dict[str, tuple[torch.Tensor, torch.Tensor]]
"""Subset name -> (pixel values (n, 3, S, S), labels (n, S, S)); ``n`` may be 0."""


class SegSource(Protocol):
    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]: ...


def load_samrs(
    dataset: str, configs: Sequence[str], split: str, cache: str | Path | None = None
) -> dict[str, SegSource]:
    """:func:`~samrs_hf.dataset.folder.load_subset` of each config (local folder or Hub id), read from
    the decoded training cache ``cache`` (default: :func:`~samrs_hf.training.cache.default_cache_dir`, when
    there) or else decoded from its PNGs per sample, with a one-line hint."""
    root = Path(cache) if cache else default_cache_dir(dataset)
    sources: dict[str, SegSource] = {}
    for config in configs:
        rows = load_subset(dataset, config, split)
        folder = split_folder(root, config, split)
        sources[config] = open_cache(folder, rows) if cache or folder.is_dir() else HubSegSource(rows)
    missing = [config for config, source in sources.items() if isinstance(source, HubSegSource)]
    if missing:
        logger.warning(
            "no training cache for %s (%s) in %s: decoding PNGs per sample, ~10x slower; "
            "`samrs prepare-training %s --configs %s` writes one (4 bytes per pixel)",
            " ".join(missing),
            split,
            root,
            dataset,
            " ".join(missing),
        )
    return sources


def samrs_classes(configs: Sequence[str]) -> dict[str, list[str]]:
    """Head definitions for SAMRS configs: config -> class names in release (label-index) order."""
    unknown = [c for c in configs if c not in SUBSETS]
    if unknown:
        raise ValueError(f"unknown SAMRS config(s) {unknown}; choose from {', '.join(SUBSETS)}")
    return {config: list(SUBSETS[config].classes) for config in configs}


def stack(samples: list[tuple[torch.Tensor, torch.Tensor]], size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Images and labels as two batch tensors (``default_collate``: in a DataLoader worker it stacks straight
    into shared memory, saving the copy there on the way to the main process)."""
    if not samples:
        return torch.empty(0, 3, size, size), torch.empty(0, size, size, dtype=torch.int64)
    images, labels = torch.utils.data.default_collate(samples)
    return images, labels


class StepBatches(torch.utils.data.Dataset):
    """Item ``m`` = this process's share of micro-step ``m`` (step ``m // accumulation``), augmented.

    Each sample's augmentation (``transform``) is seeded by ``(seed, step, subset, position in the global
    batch)``, so batches are reproducible, independent of the process count, and safe in DataLoader workers.
    """

    def __init__(
        self,
        sources: dict[str, SegSource],
        batch_sizes: dict[str, int],
        crop_size: int,
        seed: int,
        process_index: int = 0,
        num_processes: int = 1,
        accumulation_steps: int = 1,
        transform: Callable[[np.ndarray, np.ndarray, int, np.random.Generator], Pair] = sep_train_transform,
    ) -> None:
        self.sources, self.batch_sizes, self.crop_size, self.seed = sources, batch_sizes, crop_size, seed
        self.transform = transform
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
            samples[name].append(to_tensors(*self.transform(image, label, self.crop_size, rng)))
        return {name: stack(pairs, self.crop_size) for name, pairs in samples.items()}


def eval_batches(
    source: SegSource,
    crop_size: int,
    batch_size: int,
    process_index: int = 0,
    num_processes: int = 1,
    limit: int | None = None,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Centre crops of this process's share (every ``num_processes``-th) of the first ``limit`` samples."""
    indices = range(min(len(source), limit or len(source)))[process_index::num_processes]
    for start in range(0, len(indices), batch_size):
        pairs = [to_tensors(*center_crop(*source[i], crop_size)) for i in indices[start : start + batch_size]]
        yield stack(pairs, crop_size)


class SceneTiles:
    """Tiles of ``tile_size`` every ``stride`` over each scene (last ones flush with the edge), as a source."""

    def __init__(
        self, scenes: Sequence[LabeledScene], spec: SegDatasetSpec, tile_size: int, stride: int | None = None
    ) -> None:
        self.scenes, self.spec = list(scenes), spec
        self.tiles = []
        for number, scene in enumerate(self.scenes):
            width, height = read_size(scene.image)
            windows = sliding_windows(width, height, tile_size, stride or tile_size)
            self.tiles.extend((number, window) for window in windows)
        self._cache: tuple[int, np.ndarray, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.tiles)

    def _scene(self, number: int) -> tuple[np.ndarray, np.ndarray]:
        if self._cache is None or self._cache[0] != number:
            scene = self.scenes[number]
            pixels = np.asarray(open_rgb(scene.image))
            label = decode_label(scene.label, self.spec)
            if label.shape != pixels.shape[:2]:
                raise ValueError(f"{scene.label}: label size {label.shape} differs from image {pixels.shape[:2]}")
            self._cache = (number, pixels, label)
        return self._cache[1], self._cache[2]

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        number, (x0, y0, x1, y1) = self.tiles[index]
        image, label = self._scene(number)
        return image[y0:y1, x0:x1], label[y0:y1, x0:x1]


def fraction_indices(count: int, fraction: float, seed: int) -> np.ndarray:
    """A seeded random ``fraction`` of ``range(count)`` (at least one), sorted."""
    if not 0 < fraction <= 1:
        raise ValueError(f"train fraction must be in (0, 1], got {fraction}")
    keep = max(1, round(count * fraction))
    return np.sort(np.random.default_rng(seed).choice(count, size=keep, replace=False))


class FractionSource:
    """The samples ``indices`` of another source."""

    def __init__(self, source, indices: np.ndarray) -> None:
        self.source, self.indices = source, indices

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        return self.source[int(self.indices[index])]
