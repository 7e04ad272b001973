"""SEP input streamed with ``load_dataset(..., streaming=True)`` from a Hub id or a local folder: no local copy.

Each config's split is resharded to one shard per Parquet row group, split between processes by
``datasets.distributed.split_dataset_by_node`` and, inside a process, between DataLoader workers by
``datasets`` itself. Each worker reads its rows through a seeded shuffle buffer (:class:`ShuffledRows`)
and makes whole micro-batches with the map-style path's per-subset shares, decoding and augmentation
(:func:`~samrs_hf.training.data.augmented_batch`). A torchdata ``StatefulDataLoader`` brings each worker's
position to its process, and :class:`StreamInput` saves every process's with accelerate's checkpoint, so a
resumed run's next batches are those of an uninterrupted run.
"""

from __future__ import annotations

import copy
import itertools
import logging
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import PIL.Image
import torch
from accelerate.utils import gather_object
from datasets import Image, IterableDataset, load_dataset
from datasets.distributed import split_dataset_by_node
from torchdata.stateful_dataloader import StatefulDataLoader

from samrs_hf.errors import DamagedFileError, summary
from samrs_hf.training.augment import sep_train_transform
from samrs_hf.training.data import (
    Batch,
    Transform,
    augmented_batch,
    batch_or_input_error,
    raise_returned_errors,
    require_configs,
)
from samrs_hf.training.sampling import batch_positions, micro_batch_shard, proportional_batch_sizes, shard

if TYPE_CHECKING:
    from accelerate import Accelerator

    from samrs_hf.training.arguments import LoopArguments

logger = logging.getLogger(__name__)

IMAGES = ("image", "semantic_map")
COLUMNS = ("image_id", *IMAGES)
"""The only columns streamed (a row's ``objects`` can be larger than its pixels); ``image_id`` names a row."""
DECODE_ERRORS = (OSError, ValueError, SyntaxError, PIL.Image.DecompressionBombError)
"""What Pillow raises for bytes that are no image it can decode, or one over its pixel limit."""


def encoded_rows(dataset: str, config: str, split: str) -> IterableDataset:
    """``config``'s ``split`` as a stream of images and label maps left encoded (decoded after the buffer)."""
    rows = load_dataset(dataset, config, split=split, streaming=True, columns=list(COLUMNS))
    for column in IMAGES:
        rows = rows.cast_column(column, Image(decode=False))
    return rows


def open_stream(dataset: str, config: str, split: str, rank: int = 0, world_size: int = 1) -> IterableDataset:
    """Process ``rank``'s share of ``config``'s ``split`` for training: one shard per Parquet row group."""
    rows = encoded_rows(dataset, config, split).reshard()
    if rows.num_shards % world_size:
        logger.warning(
            "%s: %d shards (Parquet row groups) do not divide among %d processes: each process reads all of them "
            "and keeps 1 row in %d; run a number of processes that divides %d",
            config,
            rows.num_shards,
            world_size,
            world_size,
            rows.num_shards,
        )
    return split_dataset_by_node(rows, rank=rank, world_size=world_size)


def stream_pairs(
    dataset: str, config: str, split: str, process_index: int = 0, num_processes: int = 1, limit: int | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """This process's share of the first ``limit`` rows of a streamed split, decoded (for evaluation)."""
    rows = encoded_rows(dataset, config, split)
    for row in split_dataset_by_node(rows.take(limit) if limit else rows, process_index, num_processes):
        yield row_pixels(row, rows)


def split_rows(stream: IterableDataset, dataset: str, config: str, split: str) -> int:
    """Rows of a streamed split, from the card's ``dataset_info`` (the proportional batch needs them)."""
    splits = stream.info.splits or {}
    if split not in splits or not splits[split].num_examples:
        raise ValueError(
            f"--streaming: the card of {dataset} gives no row count for {config} {split} (dataset_info); "
            "write the card with `samrs build` / `samrs import-release`, or train without --streaming"
        )
    return splits[split].num_examples


def row_pixels(row: dict, stream: IterableDataset) -> tuple[np.ndarray, np.ndarray]:
    """A row of ``stream``: its image (RGB) and label map, decoded by ``datasets``' ``Image`` feature as in
    :class:`~samrs_hf.training.cache.HubSegSource`; a :class:`DamagedFileError` names a row that does not decode."""
    decode = Image().decode_example
    try:
        return np.asarray(decode(row["image"]).convert("RGB")), np.asarray(decode(row["semantic_map"]).convert("L"))
    except DECODE_ERRORS as error:
        config = stream.info.config_name
        raise DamagedFileError(
            f"{config} {stream.split}: row {row['image_id']} does not decode ({summary(error)}): its Parquet file "
            f"is damaged; write or download the subset again, or leave {config} out of --configs"
        ) from None


def stream_workers(streams: dict[str, IterableDataset], workers: int, processes: int) -> int:
    """DataLoader workers per process such that each reads rows of every config (at most ``workers``), with a
    warning when a config has fewer shards for this process than workers."""
    usable = max(workers, 1)
    for config, stream in streams.items():
        if stream.num_shards < usable:
            usable = stream.num_shards
            logger.warning(
                "%s: %d shards (Parquet row groups) per process for %d processes x %d DataLoader workers: using "
                "%d worker(s) per process; pass --num-workers %d, or write the subset with more row groups",
                config,
                stream.num_shards,
                processes,
                workers,
                usable,
                usable,
            )
    return usable if workers else 0


class ShuffledRows:
    """One config's rows in this worker, epoch after epoch, in a seeded random order: the stream is read
    ``buffer_size`` rows at a time and each block permuted (seeded by ``seed``, the epoch and the block).

    Its state is small: the stream's state where the current block began, and how many of the block were
    used. Resuming re-reads that block (at most ``buffer_size`` rows).

    It reads a copy of ``stream``: ``datasets`` keeps an ``IterableDataset``'s epoch in shared memory, common
    to every DataLoader worker it is sent to, so workers setting their own epochs on one stream would read
    each other's (which rows a worker read, and where a resumed one went on, would depend on timing)."""

    def __init__(self, stream: IterableDataset, buffer_size: int, seed: list[int]) -> None:
        self.stream, self.buffer_size, self.seed = copy.deepcopy(stream), buffer_size, seed
        self.position = {"epoch": 0, "block": 0, "start": None, "used": 0}
        self._rows: Iterator[dict] | None = None
        self._block: list[dict] | None = None
        self._ended = False

    def state_dict(self) -> dict:
        return copy.deepcopy(self.position)

    def load_state_dict(self, state: dict) -> None:
        self.position, self._rows, self._block = copy.deepcopy(state), None, None

    def __next__(self) -> dict:
        if self._block is None:
            self._read_block()
        while self.position["used"] >= len(self._block):
            self._next_block()
        self.position["used"] += 1
        return self._block[self.position["used"] - 1]

    def _read_block(self) -> None:
        position = self.position
        if self._rows is None:
            self.stream.set_epoch(position["epoch"])
            if position["start"] is not None:
                self.stream.load_state_dict(position["start"])
            self._rows = iter(self.stream)
        block = list(itertools.islice(self._rows, self.buffer_size))
        if not block and position["block"] == 0:
            raise ValueError("a stream has no rows for this DataLoader worker (more workers than shards)")
        order = np.random.default_rng([*self.seed, position["epoch"], position["block"]]).permutation(len(block))
        self._block, self._ended = [block[i] for i in order], len(block) < self.buffer_size

    def _next_block(self) -> None:
        position = self.position
        if self._ended:
            position.update(epoch=position["epoch"] + 1, block=0, start=None)
            self._rows = None
        else:
            position.update(block=position["block"] + 1, start=self.stream.state_dict())
        position["used"] = 0
        self._read_block()


class StreamBatches(torch.utils.data.IterableDataset):
    """This process's micro-batches ``0 .. stop-1`` made from streams; DataLoader worker ``w`` of ``W`` makes
    micro-batches ``w, w + W, ...`` (the order a DataLoader takes them in) from its own rows."""

    def __init__(
        self,
        streams: dict[str, IterableDataset],
        batch_sizes: dict[str, int],
        crop_size: int,
        seed: int,
        shuffle_buffer: int,
        stop: int,
        process_index: int = 0,
        num_processes: int = 1,
        accumulation_steps: int = 1,
        transform: Transform = sep_train_transform,
    ) -> None:
        self.streams, self.batch_sizes, self.crop_size, self.seed = streams, batch_sizes, crop_size, seed
        self.shuffle_buffer, self.stop, self.transform = shuffle_buffer, stop, transform
        self.process_index, self.num_processes = process_index, num_processes
        self.accumulation_steps = accumulation_steps

    def __iter__(self) -> MicroBatches:
        info = torch.utils.data.get_worker_info()
        return MicroBatches(self, *((info.id, info.num_workers) if info else (0, 1)))


class MicroBatches:
    """One worker's micro-batches of :class:`StreamBatches`; its state (next micro-step, row positions) is
    what a ``StatefulDataLoader`` saves and restores."""

    def __init__(self, batches: StreamBatches, worker: int, workers: int) -> None:
        self.batches, self.workers, self.micro_step = batches, workers, worker
        seed = [batches.seed, batches.process_index, worker]
        self.rows = {
            name: ShuffledRows(stream, batches.shuffle_buffer, [*seed, number])
            for number, (name, stream) in enumerate(batches.streams.items())
        }

    def __iter__(self) -> MicroBatches:
        return self

    def __next__(self) -> Batch:
        b = self.batches
        if self.micro_step >= b.stop:
            raise StopIteration
        step, share, shares = micro_batch_shard(self.micro_step, b.process_index, b.num_processes, b.accumulation_steps)
        mine = shard(batch_positions(b.batch_sizes), share, shares)
        rows, streams = self.rows, b.streams
        samples = ((name, position, row_pixels(next(rows[name]), streams[name])) for name, position in mine)
        batch = augmented_batch(samples, list(b.batch_sizes), step, b.seed, b.crop_size, b.transform)
        self.micro_step += self.workers
        return batch

    def state_dict(self) -> dict:
        return {"micro_step": self.micro_step, "rows": {name: rows.state_dict() for name, rows in self.rows.items()}}

    def load_state_dict(self, state: dict) -> None:
        self.micro_step = state["micro_step"]
        for name, rows in self.rows.items():
            rows.load_state_dict(state["rows"][name])


class StreamReturningInputErrors(torch.utils.data.IterableDataset):
    """:class:`StreamBatches` for a DataLoader, input errors returned
    (:func:`~samrs_hf.training.data.batch_or_input_error`)."""

    def __init__(self, batches: StreamBatches) -> None:
        self.batches = batches

    def __iter__(self) -> ReturningInputErrorsIterator:
        return ReturningInputErrorsIterator(iter(self.batches))


class ReturningInputErrorsIterator:
    """A worker's :class:`MicroBatches`, input errors returned; their state is its state."""

    def __init__(self, batches: MicroBatches) -> None:
        self.batches = batches

    def __iter__(self) -> ReturningInputErrorsIterator:
        return self

    def __next__(self) -> Batch | Exception:
        return batch_or_input_error(lambda: next(self.batches))

    def state_dict(self) -> dict:
        return self.batches.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.batches.load_state_dict(state)


class StreamInput:
    """Pre-training input streamed from a SAMRS folder or Hub id: this process's loader, and the loaders'
    state in accelerate's checkpoints (every process's, gathered into the one file the main process writes)."""

    def __init__(
        self,
        dataset: str,
        configs: list[str],
        split: str,
        batch_size: int,
        shuffle_buffer: int,
        accelerator: Accelerator,
    ) -> None:
        require_configs(dataset, configs)
        self.rank, self.processes = accelerator.process_index, accelerator.num_processes
        self.streams = {config: open_stream(dataset, config, split, self.rank, self.processes) for config in configs}
        rows = {config: split_rows(self.streams[config], dataset, config, split) for config in configs}
        self.batch_sizes = proportional_batch_sizes(batch_size, rows)
        self.shuffle_buffer = shuffle_buffer
        self.checkpointed = (self,)
        self._loader: StatefulDataLoader | None = None
        self._restored: dict | None = None
        self._workers: int | None = None

    def loader(self, accelerator: Accelerator, args: LoopArguments, first_step: int) -> Iterator[Batch]:
        """This process's micro-batches to the end of training, from where the restored checkpoint left off."""
        accumulation = args.gradient_accumulation_steps
        stop, shares = args.max_steps * accumulation, (self.rank, self.processes, accumulation)
        batches = StreamBatches(
            self.streams, self.batch_sizes, args.crop_size, args.seed, self.shuffle_buffer, stop, *shares
        )
        self._workers = stream_workers(self.streams, args.num_workers, self.processes)
        with warnings.catch_warnings():  # torchdata 0.11 calls torch.set_vital, deprecated in torch 2.13
            warnings.filterwarnings("ignore", "'set_vital' is deprecated", UserWarning)
            self._loader = StatefulDataLoader(
                StreamReturningInputErrors(batches), batch_size=None, num_workers=self._workers
            )
        if self._restored is not None:
            if self._restored["workers"] != self._workers:
                raise ValueError(
                    f"--resume-from-checkpoint: its streams were read by {self._restored['workers']} DataLoader "
                    f"worker(s) per process, this run has {self._workers}; pass --num-workers "
                    f"{self._restored['workers']}"
                )
            self._loader.load_state_dict(self._restored["loader"])
        return raise_returned_errors(self._loader)

    def state_dict(self) -> dict:
        """Every process's loader state (a collective: accelerate calls it on every process)."""
        return {"processes": gather_object([{"workers": self._workers, "loader": self._loader.state_dict()}])}

    def load_state_dict(self, state: dict) -> None:
        processes = state["processes"]
        if len(processes) != self.processes:
            raise ValueError(
                f"--resume-from-checkpoint: its streams were read by {len(processes)} process(es), this run has "
                f"{self.processes}; resume with `accelerate launch --num_processes {len(processes)}`"
            )
        self._restored = processes[self.rank]
