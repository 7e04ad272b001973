"""Writing one subset into a SAMRS folder: folder checks, settings, resume, a background shard writer, the card.

:class:`SubsetWriter` is what ``samrs build`` and ``samrs import-release`` write through (driven by
:class:`~samrs_hf.dataset.job.SubsetJob`, which also holds the subset's lock):

1. :meth:`~SubsetWriter.prepare` (main process first, then every process): refuse an ``--out``
   that holds someone else's files, refuse to resume shards built with other settings (or, with
   ``overwrite``, delete the subset's shards and settings and start over), record the settings, and
   return the tiles already committed, which the caller skips;
2. :meth:`~SubsetWriter.open` (each process): a sink whose ``put(split, make_row)`` hands a row
   factory to a writer thread, which has ``row_threads`` rows built at once (PNG encoding, a tile's
   largest cost outside SAM, releases the GIL), then writes them in order and commits shards, so writing
   overlaps labelling; at most ``queue_size`` rows wait and ``row_threads`` are being built, which
   bounds memory;
3. :meth:`~SubsetWriter.finish` (main process, after every process closed its sink): publish the
   staged shards and rewrite the card.
"""

from __future__ import annotations

import os
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from accelerate import PartialState
from accelerate.utils import get_int_from_env

from samrs_hf.dataset.card import write_card
from samrs_hf.dataset.folder import check_dataset_folder
from samrs_hf.dataset.shards import (
    BUILD_SETTINGS,
    ShardWriter,
    committed_ids,
    publish_staged,
    read_build_settings,
    remove_partial_shards,
    remove_subset,
    shard_files,
    write_build_settings,
)
from samrs_hf.dataset.subsets import SubsetRecipe

__all__ = ["SubsetWriter", "default_row_threads"]

MAX_ROW_THREADS = 8

DISPLAY_ONLY = frozenset({"model", "splits"})
"""Settings recorded for people, not compared on resume: the model (compared by its config hash) and the source
splits (a build may add splits; the record lists all of them)."""


def _differences(previous: dict, settings: dict) -> list[str]:
    keys = sorted((set(previous) | set(settings)) - DISPLAY_ONLY)
    return [f"{k}={previous.get(k)!r} (now {settings.get(k)!r})" for k in keys if previous.get(k) != settings.get(k)]


def default_row_threads(processes: int) -> int:
    """Threads building rows in each of ``processes`` processes on this machine: its cores shared among them,
    1 to :data:`MAX_ROW_THREADS`."""
    return max(1, min(MAX_ROW_THREADS, (os.cpu_count() or 1) // max(1, processes)))


class SubsetWriter:
    """Resumable, multi-process writing of ``recipe``'s rows into the SAMRS folder ``out``."""

    def __init__(
        self,
        out: Path,
        recipe: SubsetRecipe,
        state: PartialState | None = None,
        rows_per_shard: int = 256,
        queue_size: int = 4,
        row_threads: int | None = None,
    ):
        self.out, self.recipe, self.state = Path(out), recipe, state or PartialState()
        row_threads = row_threads or default_row_threads(
            get_int_from_env(["LOCAL_WORLD_SIZE"], self.state.num_processes)  # this machine's processes
        )
        if min(rows_per_shard, queue_size, row_threads) < 1:
            raise ValueError(
                f"rows_per_shard, queue_size and row_threads must be >= 1, got {rows_per_shard}, {queue_size}, "
                f"{row_threads}"
            )
        self.folder = self.out / recipe.name
        self.rows_per_shard, self.queue_size, self.row_threads = rows_per_shard, queue_size, row_threads

    def prepare(self, settings: dict, overwrite: bool = False) -> set[tuple[str, str]]:
        """Check the folder and settings, record the settings; returns the ``(split, image_id)`` already written.

        Every process returns the same set: nobody commits before everyone has read it.
        """
        if self.state.is_main_process:
            check_dataset_folder(self.out)
            if overwrite and self.folder.exists():
                remove_subset(self.folder)
                write_card(self.out)
            settings = self._checked_settings(settings)
            remove_partial_shards(self.folder)
            write_build_settings(self.folder, settings)
        self.state.wait_for_everyone()
        done = {(split, image_id) for split, ids in committed_ids(self.folder).items() for image_id in ids}
        self.state.wait_for_everyone()
        return done

    def _checked_settings(self, settings: dict) -> dict:
        """``settings`` checked against those of the shards already here, with the splits of both."""
        previous = read_build_settings(self.folder)
        if previous is None or not shard_files(self.folder, staged=True):
            return settings
        differences = _differences(previous, settings)
        if differences:
            raise ValueError(
                f"{self.folder / BUILD_SETTINGS}: the shards here were built with {'; '.join(differences)}; "
                "rerun with the same settings to resume, pass --overwrite to delete them and start over, "
                "or build into another --out"
            )
        splits = list(dict.fromkeys([*previous.get("splits", []), *settings.get("splits", [])]))
        return {**settings, "splits": splits} if splits else settings

    @contextmanager
    def open(self) -> Iterator[Callable[[str, Callable[[], dict]], None]]:
        """A ``put(split, make_row)`` function for this process; rows are built and written in a thread.

        On leaving the block the queue is drained and the last shards committed; an error of the
        writer thread is raised here (or at the next ``put``).
        """
        jobs: queue.Queue = queue.Queue(maxsize=self.queue_size)
        failure: list[BaseException] = []
        thread = threading.Thread(target=self._drain, args=(jobs, failure), name="samrs-shard-writer", daemon=True)
        thread.start()

        def put(split: str, make_row: Callable[[], dict]) -> None:
            while not failure:
                try:
                    jobs.put((split, make_row), timeout=0.1)
                    return
                except queue.Full:
                    continue
            raise failure[0]

        try:
            yield put
        finally:
            while thread.is_alive():
                try:
                    jobs.put(None, timeout=0.1)
                    break
                except queue.Full:
                    continue
            thread.join()
        if failure:
            raise failure[0]

    def _drain(self, jobs: queue.Queue, failure: list[BaseException]) -> None:
        """Build the queued rows, ``row_threads`` at once, and write them in the order they were put."""
        writers: dict[str, ShardWriter] = {}
        try:
            with ThreadPoolExecutor(self.row_threads, thread_name_prefix="samrs-row") as pool:
                building: deque[tuple[str, Future]] = deque()
                while (job := jobs.get()) is not None:
                    split, make_row = job
                    building.append((split, pool.submit(make_row)))
                    if len(building) >= self.row_threads:
                        self._write_row(writers, *building.popleft())
                while building:
                    self._write_row(writers, *building.popleft())
            for writer in writers.values():
                writer.flush()
        except BaseException as error:  # handed to the main thread, which raises it
            failure.append(error)
            while True:  # unblock a main thread waiting on a full queue
                try:
                    jobs.get_nowait()
                except queue.Empty:
                    break

    def _write_row(self, writers: dict[str, ShardWriter], split: str, row: Future) -> None:
        if split not in writers:
            rank = self.state.process_index
            writers[split] = ShardWriter(self.folder, split, self.recipe.features, rank, self.rows_per_shard)
        writers[split].add(row.result())

    def finish(self) -> Path | None:
        """After every process closed its sink: on the main process, publish the staged shards and write the card."""
        self.state.wait_for_everyone()
        card = None
        if self.state.is_main_process:
            publish_staged(self.folder)
            card = write_card(self.out)
        self.state.wait_for_everyone()
        return card
