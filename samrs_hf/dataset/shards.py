"""Parquet shards of a SAMRS dataset folder, and the bookkeeping that lets a killed build resume.

Layout of ``DATASET_DIR`` (the same on the Hub, so ``load_dataset`` reads both)::

    README.md                                   card; YAML ``configs:`` names every finished subset
    sota/.build.json                            settings the shards were built with (model, prompt, tiling)
    sota/.lock, sota/.lock.json                 the subset's lock and the run holding it (dataset/lock.py)
    sota/train-r00-00000.parquet                {config}/{split}-r{rank}-{index}.parquet: finished shards
    sota/.incomplete/train-r01-00003.parquet    shards of a build still running (or killed)

A build commits its shards into the hidden ``.incomplete/`` folder, which ``datasets`` ignores
(it skips hidden files and folders unless a pattern names them), so a folder mid-build never loads
as complete: it loads as it was before the build, or not at all. When every process is done,
:func:`publish_staged` moves the shards next to the finished ones. Each shard is written to
``NAME.parquet.tmp``, synced and renamed, so a killed build leaves only whole shards, and
:func:`committed_ids` recovers the tiles they hold for resuming. The settings file is hidden too:
``datasets`` would otherwise read a lone JSON file as the data (the card shows the settings).

Shards carry a CRC checksum per Parquet page, verified wherever they are read (:func:`read_shard`,
and ``datasets`` through :func:`samrs_hf.dataset.folder.load_subset`): a truncated or altered shard
is a :class:`~samrs_hf.errors.DamagedFileError` naming it, never wrong rows.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from datasets import Features

from samrs_hf.dataset.atomic import commit_file, read_json_object, sync_folder, write_atomic
from samrs_hf.errors import DamagedFileError, summary

__all__ = [
    "BUILD_SETTINGS",
    "STAGING",
    "ShardWriter",
    "committed_ids",
    "publish_staged",
    "read_build_settings",
    "read_shard",
    "remove_partial_shards",
    "remove_subset",
    "shard_files",
    "shard_metadata",
    "shard_split",
    "verify_shard",
    "write_build_settings",
]

BUILD_SETTINGS = ".build.json"
STAGING = ".incomplete"
ROW_GROUP_ROWS = 16
"""Rows per Parquet row group at most. A streamed config has one shard per row group, which a reader holds
whole, so the group's size sets a streamed reader's memory, first row and resume; small groups cost almost no
file bytes (measured in ``benchmarks/README.md``, "Parquet layout for streaming"). 16 leaves SAMRS's smallest
training split (SIOR, 11,725 tiles) 733 shards."""
ROW_GROUP_BYTES = 32 * 2**20
"""Arrow bytes per row group at most (~16 tiles of 1024): rows of dense tiles (many instances) close it early."""
SHARD_BYTES = 256 * 2**20
"""Arrow bytes per shard at most, whatever ``rows_per_shard`` says: a streamed or pushed file stays a few hundred
MB (256 rows of 1024 tiles, ~1.9 MB each, would make ~480 MB)."""
SETTINGS_BYTES = 2**20
"""Largest settings file read (samrs writes under 2 KB)."""
SHARD_RE = re.compile(r"^(?P<split>\w+)-r(?P<rank>\d+)-(?P<index>\d+)\.parquet$")
REDO_SHARD = (
    "delete it and rerun the `samrs build` or `samrs import-release` that wrote it to redo its tiles "
    "(or pass --overwrite to start the subset over)"
)


def shard_files(folder: Path, split: str | None = None, staged: bool = False) -> list[Path]:
    """Finished shards in ``folder`` (with ``staged``, also those in its ``.incomplete/``), optionally of one split."""
    folders = [Path(folder), Path(folder) / STAGING] if staged else [Path(folder)]
    files = [p for f in folders for p in f.glob("*.parquet") if SHARD_RE.match(p.name)]
    return sorted((p for p in files if split is None or shard_split(p) == split), key=lambda p: p.name)


def shard_split(path: Path) -> str:
    """The split a shard belongs to (from its name)."""
    return SHARD_RE.match(Path(path).name)["split"]


def committed_ids(folder: Path) -> dict[str, set[str]]:
    """``split -> image ids`` in finished and staged shards (what a resumed build skips)."""
    done: dict[str, set[str]] = {}
    for path in shard_files(folder, staged=True):
        for batch in read_shard(path, ["image_id"]):
            done.setdefault(shard_split(path), set()).update(batch.column("image_id").to_pylist())
    return done


@contextmanager
def _reading(path: Path) -> Iterator[None]:
    """pyarrow's errors about the content of shard ``path`` as one :class:`DamagedFileError` naming it."""
    try:
        yield
    except (pa.ArrowException, OSError) as error:
        if isinstance(error, OSError) and error.errno is not None:  # the system's (missing, no permission)
            raise
        raise DamagedFileError(f"{path}: damaged Parquet shard ({summary(error)}); {REDO_SHARD}") from None


def shard_metadata(path: Path) -> pq.FileMetaData:
    """The footer of shard ``path``: its rows, row groups and schema (a cut-short shard has none)."""
    with _reading(path), open(path, "rb") as file:
        return pq.read_metadata(file)


def read_shard(path: Path, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
    """The rows of shard ``path`` (only ``columns``) a row group at a time, each page checked against its checksum."""
    with _reading(path), open(path, "rb") as file:
        yield from pq.ParquetFile(file, page_checksum_verification=True).iter_batches(columns=columns)


def verify_shard(path: Path) -> None:
    """Read every page of shard ``path``: a :class:`DamagedFileError` when one is damaged."""
    for _ in read_shard(path):
        pass


def remove_partial_shards(folder: Path) -> int:
    """Delete the ``*.parquet.tmp`` a killed build left in ``folder/.incomplete``; returns how many."""
    partial = list((Path(folder) / STAGING).glob("*.parquet.tmp"))
    for path in partial:
        path.unlink()
    return len(partial)


def remove_subset(folder: Path) -> None:
    """Delete what builds wrote into a subset folder: its shards (finished, staged, partial) and settings.

    Other files in ``folder`` are not ours and are kept (so is the folder, with its lock).
    """
    remove_partial_shards(folder)
    for path in [*shard_files(folder, staged=True), Path(folder) / BUILD_SETTINGS]:
        path.unlink(missing_ok=True)
    _remove_empty_staging(folder)


def publish_staged(folder: Path) -> int:
    """Move the staged shards of ``folder`` next to its finished ones; returns how many moved."""
    staged = shard_files(Path(folder) / STAGING)
    for path in staged:
        os.replace(path, Path(folder) / path.name)
    sync_folder(folder)
    _remove_empty_staging(folder)
    return len(staged)


def _remove_empty_staging(folder: Path) -> None:
    staging = Path(folder) / STAGING
    if staging.is_dir() and not any(staging.iterdir()):
        staging.rmdir()


def read_build_settings(folder: Path) -> dict | None:
    """The settings recorded in ``folder/.build.json``, or ``None`` when there are none.

    A file that is not the JSON object samrs writes (cut short, edited, damaged) is a ``ValueError``
    naming it and the way out.
    """
    path = Path(folder) / BUILD_SETTINGS
    if not path.is_file():
        return None
    try:
        settings = read_json_object(path, SETTINGS_BYTES)
    except ValueError as error:
        raise ValueError(
            f"{path}: not a settings file of samrs ({error}); pass --overwrite to delete "
            f"the {Path(folder).name} subset and build it again"
        ) from None
    return settings


def write_build_settings(folder: Path, settings: dict) -> Path:
    """Record the settings a subset's shards are built with (read back by resumes and the card), atomically."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    return write_atomic(Path(folder) / BUILD_SETTINGS, json.dumps(settings, indent=2, sort_keys=True))


class ShardWriter:
    """Writes encoded rows of one split and commits a shard to ``folder/.incomplete`` every ``rows_per_shard`` rows
    (or :data:`SHARD_BYTES`, whichever comes first).

    Rows go to disk in Parquet row groups of at most :data:`ROW_GROUP_ROWS` rows or
    :data:`ROW_GROUP_BYTES`, so memory holds one row group, not a shard; every page carries a checksum.
    Each shard is written to ``NAME.parquet.tmp`` and renamed when complete, so it appears whole or not
    at all. Shard indices continue after this rank's finished and staged shards, so resumed and grown
    builds append without a name clash.
    """

    def __init__(self, folder: Path, split: str, features: Features, rank: int = 0, rows_per_shard: int = 256):
        if rows_per_shard < 1:
            raise ValueError(f"rows_per_shard must be >= 1, got {rows_per_shard}")
        self.staging, self.split, self.features = Path(folder) / STAGING, split, features
        self.rank, self.rows_per_shard = rank, rows_per_shard
        self.staging.mkdir(parents=True, exist_ok=True)
        own = [SHARD_RE.match(p.name) for p in shard_files(folder, split, staged=True)]
        indices = [int(m["index"]) for m in own if int(m["rank"]) == rank]
        self.next_index = max(indices, default=-1) + 1
        self._group: list[pa.Table] = []
        self._group_bytes = 0
        self._rows_in_shard = self._shard_bytes = 0
        self._writer: pq.ParquetWriter | None = None

    @property
    def _path(self) -> Path:
        return self.staging / f"{self.split}-r{self.rank:02d}-{self.next_index:05d}.parquet"

    def add(self, example: dict) -> None:
        row = pa.Table.from_pylist([self.features.encode_example(example)], schema=self.features.arrow_schema)
        self._group.append(row)
        self._group_bytes += row.nbytes
        self._shard_bytes += row.nbytes
        self._rows_in_shard += 1
        if len(self._group) >= ROW_GROUP_ROWS or self._group_bytes >= ROW_GROUP_BYTES:
            self._write_group()
        if self._rows_in_shard >= self.rows_per_shard or self._shard_bytes >= SHARD_BYTES:
            self.flush()

    def _write_group(self) -> None:
        if not self._group:
            return
        if self._writer is None:
            self._writer = pq.ParquetWriter(
                str(self._path) + ".tmp", self.features.arrow_schema, write_page_checksum=True
            )
        self._writer.write_table(pa.concat_tables(self._group))
        self._group, self._group_bytes = [], 0

    def flush(self) -> None:
        """Commit the rows added since the last shard as one shard (nothing when there are none)."""
        self._write_group()
        if self._writer is None:
            return
        self._writer.close()
        commit_file(self._writer.where, self._path)
        self._writer, self._rows_in_shard, self._shard_bytes = None, 0, 0
        self.next_index += 1
