"""Segmentation samples for training: SAMRS configs from ``datasets``, fine-tuning tiles, per-step batches.

A *source* is anything with ``len()`` and ``source[i] -> (image (H, W, 3) uint8, label (H, W) uint8)``;
SAMRS configs (:class:`HubSegSource`, or :class:`~samrs_hf.training.cache.CachedSegSource` when a decoded
training cache exists) and tiles of fine-tuning scenes (:class:`SceneTiles`, from
:mod:`samrs_hf.training.finetune_datasets`) are all sources.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import torch
from datasets import get_dataset_config_names
from torch.utils.data import DataLoader

from samrs_hf.dataset.folder import load_subset
from samrs_hf.dataset.subsets import SUBSETS
from samrs_hf.geometry import sliding_windows
from samrs_hf.records import open_rgb, read_size
from samrs_hf.training.augment import Pair, center_crop, sep_train_transform, to_tensors
from samrs_hf.training.cache import HubSegSource, default_cache_dir, open_cache, split_folder
from samrs_hf.training.finetune_datasets import LabeledScene, SegDatasetSpec, decode_label
from samrs_hf.training.sampling import global_batch, micro_batch_shard, proportional_batch_sizes, shard

if TYPE_CHECKING:
    from accelerate import Accelerator

    from samrs_hf.training.arguments import LoopArguments

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
    require_configs(dataset, configs)
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


def require_configs(dataset: str, configs: Sequence[str]) -> None:
    """``ValueError`` naming ``--configs`` and the subsets ``dataset`` has when it lacks any of ``configs``."""
    present = get_dataset_config_names(dataset)
    absent = [config for config in configs if config not in present]
    if absent:
        have = [config for config in configs if config in present] or present
        raise ValueError(
            f"--configs: {dataset} has no {' '.join(absent)} (its subsets: {', '.join(present) or 'none'}); "
            f"pass --configs {' '.join(have)}"
        )


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


Transform = Callable[[np.ndarray, np.ndarray, int, np.random.Generator], Pair]
"""``(image, label, crop size, rng) -> (image, label)``: a training sample's augmentation."""


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
        transform: Transform = sep_train_transform,
    ) -> None:
        self.sources, self.batch_sizes, self.crop_size, self.seed = sources, batch_sizes, crop_size, seed
        self.transform = transform
        self.sizes = {name: len(source) for name, source in sources.items()}
        self.process_index, self.num_processes = process_index, num_processes
        self.accumulation_steps = accumulation_steps

    def __getitem__(self, micro_step: int) -> Batch:
        process, processes = self.process_index, self.num_processes
        step, share, shares = micro_batch_shard(micro_step, process, processes, self.accumulation_steps)
        mine = shard(global_batch(step, self.sizes, self.batch_sizes, self.seed), share, shares)
        samples = ((name, position, self.sources[name][index]) for name, index, position in mine)
        return augmented_batch(samples, list(self.sources), step, self.seed, self.crop_size, self.transform)


def augmented_batch(
    samples: Iterable[tuple[str, int, tuple[np.ndarray, np.ndarray]]],
    names: Sequence[str],
    step: int,
    seed: int,
    crop_size: int,
    transform: Transform = sep_train_transform,
) -> Batch:
    """``(subset, position in the global batch, (image, label))`` samples of step ``step``, each augmented by
    ``transform`` seeded by ``(seed, step, subset number in names, position)``, stacked per subset."""
    pairs: dict[str, list] = {name: [] for name in names}
    for name, position, (image, label) in samples:
        rng = np.random.default_rng([seed, step, names.index(name), position])
        pairs[name].append(to_tensors(*transform(image, label, crop_size, rng)))
    return {name: stack(pairs[name], crop_size) for name in names}


INPUT_ERRORS = (ValueError, OSError)
"""What a user's files or options cause (the ``samrs`` command reports them in one line); other errors are bugs."""


def batch_or_input_error(make_batch: Callable[[], Batch]) -> Batch | Exception:
    """``make_batch()``, or the :data:`INPUT_ERRORS` it raised: in a DataLoader worker, returned rather than raised
    so that it reaches the main process whole (torch re-raises a worker's exception rebuilt around the worker's
    traceback, many lines), to be raised there by :func:`raise_returned_errors`. Bugs raise in the worker."""
    try:
        return make_batch()
    except INPUT_ERRORS as error:
        return error


class ReturningInputErrors(torch.utils.data.Dataset):
    """A map-style dataset of batches for a DataLoader, input errors returned (:func:`batch_or_input_error`)."""

    def __init__(self, batches: torch.utils.data.Dataset) -> None:
        self.batches = batches

    def __getitem__(self, index: int) -> Batch | Exception:
        return batch_or_input_error(lambda: self.batches[index])


def raise_returned_errors(batches: Iterable[Batch | Exception]) -> Iterator[Batch]:
    """``batches``, raising an error a DataLoader worker returned in a batch's place (:func:`batch_or_input_error`)."""
    for batch in batches:
        if isinstance(batch, Exception):
            raise batch
        yield batch


class IndexedInput:
    """Training input from sources read by index: a DataLoader over :class:`StepBatches` from the step reached
    (a step's samples depend only on the seed and the step, so nothing but the step is checkpointed)."""

    checkpointed = ()

    def __init__(self, sources: dict[str, SegSource], batch_size: int) -> None:
        self.sources = sources
        self.batch_sizes = proportional_batch_sizes(batch_size, {name: len(source) for name, source in sources.items()})

    def loader(self, accelerator: Accelerator, args: LoopArguments, first_step: int) -> Iterator[Batch]:
        """This process's micro-batches from ``first_step`` to the end (workers build and augment them)."""
        accumulation = args.gradient_accumulation_steps
        batches = StepBatches(
            self.sources,
            self.batch_sizes,
            args.crop_size,
            args.seed,
            accelerator.process_index,
            accelerator.num_processes,
            accumulation,
        )
        steps = range(first_step * accumulation, args.max_steps * accumulation)
        loader = DataLoader(ReturningInputErrors(batches), batch_size=None, num_workers=args.num_workers, sampler=steps)
        return raise_returned_errors(loader)


def eval_batches(
    source: SegSource,
    crop_size: int,
    batch_size: int,
    process_index: int = 0,
    num_processes: int = 1,
    limit: int | None = None,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Centre crops of this process's share (every ``num_processes``-th) of the first ``limit`` samples."""
    return centre_crop_batches(process_pairs(source, process_index, num_processes, limit), crop_size, batch_size)


def process_pairs(
    source: SegSource, process_index: int = 0, num_processes: int = 1, limit: int | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Every ``num_processes``-th of the first ``limit`` samples of ``source``, from ``process_index``."""
    for index in range(min(len(source), limit or len(source)))[process_index::num_processes]:
        yield source[index]


def centre_crop_batches(
    pairs: Iterable[tuple[np.ndarray, np.ndarray]], crop_size: int, batch_size: int
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Centre crops of ``pairs`` (image, label), ``batch_size`` at a time."""
    pairs = iter(pairs)
    while chunk := list(itertools.islice(pairs, batch_size)):
        yield stack([to_tensors(*center_crop(image, label, crop_size)) for image, label in chunk], crop_size)


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
