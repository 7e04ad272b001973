"""The resumable job that writes one subset's rows; ``samrs build`` and ``samrs import-release`` are two of them.

:meth:`SubsetJob.run` owns the protocol; a job only says what a work item is and how it becomes a row:

1. **Lock** ``OUT/CONFIG`` (:func:`~samrs_hf.dataset.lock.folder_lock`, main process) before any other
   work or change to the folder, once ``OUT`` is known to be a SAMRS folder; a refusal stops every process.
2. **Plan** the work items (:meth:`~SubsetJob.plan`): every input is checked here, before the slow part.
3. **Prepare** :class:`~samrs_hf.dataset.writer.SubsetWriter` with the job's :meth:`~SubsetJob.settings`
   (refuse other settings, or start over with ``overwrite``) and skip the items committed shards hold.
4. **Write**: the rest is split between ``accelerate`` processes; each turns its share into rows
   (:meth:`~SubsetJob.rows`) that its writer thread commits.
5. **Gather** the summaries, **publish** the shards and the card, and **fail** when no tile was written
   at all, saying why.

Bad input goes through :func:`skip_or_raise`: with ``skip_bad`` it is counted and named in the summary;
without, the first one stops the job in one line that suggests ``--skip-bad``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, fields
from itertools import islice
from pathlib import Path
from typing import Generic, NamedTuple, TypeVar

from accelerate import PartialState
from accelerate.utils import broadcast_object_list, gather_object
from tqdm.auto import tqdm

from samrs_hf.dataset.folder import check_dataset_folder
from samrs_hf.dataset.lock import folder_lock
from samrs_hf.dataset.shards import shard_files
from samrs_hf.dataset.subsets import SubsetRecipe
from samrs_hf.dataset.writer import SubsetWriter

__all__ = ["JobSummary", "Row", "SubsetJob", "prefetch", "shown", "skip_or_raise"]

T = TypeVar("T")
Item = TypeVar("Item")
SHOWN = 10
"""Messages named in a summary per list (all of them are counted)."""


def shown(messages: list[str]) -> list[str]:
    """The first :data:`SHOWN` messages, indented, and how many more there are."""
    more = [f"  ... and {len(messages) - SHOWN} more"] if len(messages) > SHOWN else []
    return [f"  {message}" for message in messages[:SHOWN]] + more


@dataclass
class JobSummary(ABC):
    """Counts every job keeps; build and import add their own fields (all of them add up across processes)."""

    already_done: int = 0
    written: int = 0
    instances: int = 0
    skipped: Counter = field(default_factory=Counter)
    skip_messages: list[str] = field(default_factory=list)

    def merge(self, other: JobSummary) -> None:
        """Add ``other``'s counts and messages (another process's share of the work) to these."""
        for name in (f.name for f in fields(self)):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def skip(self, reason: str, message: str) -> None:
        """Count a skipped file under ``reason`` and keep the message naming it."""
        self.skipped[reason] += 1
        self.skip_messages.append(message)

    def skip_lines(self) -> list[str]:
        """What ``--skip-bad`` skipped, by reason, and the first files it named (nothing without skips)."""
        lines = [f"skipped (--skip-bad), {reason}: {n}" for reason, n in sorted(self.skipped.items())]
        return lines + shown(self.skip_messages)

    @abstractmethod
    def plan_counts(self) -> str:
        """What the plan found, in a few words (for the error when nothing could be written)."""

    @abstractmethod
    def format(self) -> str:
        """The summary a person reads after the job."""


def skip_or_raise(error: Exception, reason: str, summary: JobSummary, skip_bad: bool) -> None:
    """With ``skip_bad``, count ``error`` under ``reason`` and keep its message; without, raise it as one
    line that says how to go on."""
    if not skip_bad:
        raise ValueError(f"{error}; pass --skip-bad to skip it and go on") from None
    summary.skip(reason, str(error))


class Row(NamedTuple):
    """One row to write: its split, the function that builds it (in the writer thread), its instance count."""

    split: str
    make: Callable[[], dict]
    instances: int


class SubsetJob(ABC, Generic[Item]):
    """A resumable, multi-process job writing ``recipe``'s rows into the SAMRS folder ``out``."""

    verb = "writing"
    """What the progress bar says the job does."""
    hint = "check the input and its options"
    """What to check when nothing was written and nothing was skipped."""

    def __init__(
        self,
        recipe: SubsetRecipe,
        out: Path,
        state: PartialState,
        rows_per_shard: int = 256,
        skip_bad: bool = False,
        overwrite: bool = False,
    ):
        self.recipe, self.out, self.state = recipe, Path(out), state
        self.folder = self.out / recipe.name
        self.rows_per_shard, self.skip_bad, self.overwrite = rows_per_shard, skip_bad, overwrite

    @abstractmethod
    def new_summary(self) -> JobSummary:
        """An empty summary of this job's kind."""

    @abstractmethod
    def plan(self, summary: JobSummary) -> list[Item]:
        """Every work item in a fixed order (the same in every process); counts what it finds in ``summary``."""

    @abstractmethod
    def key(self, item: Item) -> tuple[str, str]:
        """``(split, image_id)`` of the row ``item`` makes (committed rows are not made again)."""

    @abstractmethod
    def settings(self) -> dict:
        """What determines the rows: a resume with other settings is refused."""

    @abstractmethod
    def rows(self, items: list[Item], summary: JobSummary) -> Iterator[Row | None]:
        """One value per item, in order: its :class:`Row`, or ``None`` when it gives none (counted in ``summary``)."""

    def run(self) -> JobSummary:
        """Lock, plan, skip what is committed, write this process's share, publish; returns everyone's summary.

        Raises ``ValueError`` when no tile of the subset could be written at all.
        """
        with self._lock():
            total = self.new_summary()
            items = self.plan(total)
            writer = SubsetWriter(self.out, self.recipe, self.state, self.rows_per_shard)
            done = writer.prepare(self.settings(), overwrite=self.overwrite)
            todo = [item for item in items if self.key(item) not in done]
            total.already_done = len(items) - len(todo)
            with self.state.split_between_processes(todo) as mine:
                share = self._write(mine, writer)
            for other in gather_object([share]):
                total.merge(other)
            writer.finish()
            if not shard_files(self.folder):
                raise ValueError(self._nothing_written(total))
        return total

    @contextmanager
    def _lock(self) -> Iterator[None]:
        """The subset folder's lock, held by the main process; every process raises the main process's refusal."""
        with ExitStack() as held:
            refusal: Exception | None = None
            if self.state.is_main_process:
                try:
                    check_dataset_folder(self.out)
                    held.enter_context(folder_lock(self.folder))
                except (OSError, ValueError) as error:
                    refusal = error
            [message] = broadcast_object_list([None if refusal is None else str(refusal)])
            if refusal is not None:
                raise refusal
            if message is not None:
                raise OSError(message)
            yield

    def _write(self, items: list[Item], writer: SubsetWriter) -> JobSummary:
        """Turn this process's ``items`` into rows and hand them to its writer thread; returns its counts."""
        share = self.new_summary()
        description = f"{self.verb} {self.recipe.name} [rank {self.state.process_index}]"
        with writer.open() as put, tqdm(total=len(items), desc=description, unit="tile") as bar:
            for row in self.rows(items, share):
                bar.update()
                if row is not None:
                    put(row.split, row.make)
                    share.written += 1
                    share.instances += row.instances
        return share

    def _nothing_written(self, total: JobSummary) -> str:
        found = f"no tile of {self.recipe.name} was written to {self.out} ({total.plan_counts()}"
        if not total.skipped:
            return f"{found}); {self.hint}"
        reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(total.skipped.items()))
        return (
            f"{found}, {sum(total.skipped.values())} files skipped with --skip-bad: {reasons}; "
            f"the first: {total.skip_messages[0]}); fix or replace the skipped files"
        )


def prefetch(loaders: Iterable[Callable[[], T]], workers: int = 2, ahead: int = 4) -> Iterator[T]:
    """Yield ``loader()`` for each loader, in order, running up to ``ahead`` of them in ``workers`` threads.

    Reading and decoding files (PIL and numpy release the GIL) then overlaps the work on the
    previous one. Memory holds at most ``ahead`` loaded results beyond the one being used.
    """
    if ahead < 1 or workers < 1:
        raise ValueError("prefetch needs workers >= 1 and ahead >= 1")
    loaders = iter(loaders)
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        pending = [pool.submit(f) for f in islice(loaders, ahead)]
        while pending:
            result = pending.pop(0).result()
            pending.extend(pool.submit(f) for f in islice(loaders, 1))
            yield result
    finally:
        # no join: a generator that an error left open is closed by the GC in whatever thread it runs in,
        # and joining the pool there can deadlock (seen in a thread that was itself starting)
        pool.shutdown(wait=False, cancel_futures=True)
