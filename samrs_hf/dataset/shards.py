"""Parquet shards of a SAMRS dataset folder, and the bookkeeping that lets a killed build resume.

Layout of ``DATASET_DIR`` (the same on the Hub, so ``load_dataset`` reads both)::

    README.md                                   card; YAML ``configs:`` names every finished subset
    sota/.build.json                            settings the shards were built with (model, prompt, tiling)
    sota/train-r00-00000.parquet                {config}/{split}-r{rank}-{index}.parquet: finished shards
    sota/.incomplete/train-r01-00003.parquet    shards of a build still running (or killed)

A build commits its shards into the hidden ``.incomplete/`` folder, which ``datasets`` ignores
(it skips hidden files and folders unless a pattern names them), so a folder mid-build never loads
as complete: it loads as it was before the build, or not at all. When every process is done,
:func:`publish_staged` moves the shards next to the finished ones. Each shard is written to
``NAME.parquet.tmp`` and renamed, so a killed build leaves only whole shards, and
:func:`committed_ids` recovers the tiles they hold for resuming. The settings file is hidden too:
``datasets`` would otherwise read a lone JSON file as the data (the card shows the settings).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from datasets import Features

__all__ = [
    "BUILD_SETTINGS",
    "STAGING",
    "ShardWriter",
    "committed_ids",
    "publish_staged",
    "read_build_settings",
    "remove_partial_shards",
    "shard_files",
    "shard_split",
    "write_build_settings",
]

BUILD_SETTINGS = ".build.json"
STAGING = ".incomplete"
ROW_GROUP_ROWS = 16
"""Rows per Parquet row group at most. A streamed config has one shard per row group, which a reader holds
whole: with 1024 tiles (~1.9 MB each), groups of 4-16 rows added 55-62 MiB to a reader, gave the first row
in 0.07-0.34 s and resumed in 0.1-0.2 s, against 177-665 MiB, 1.1-1.8 s and 1.3-4.4 s for 32-128 rows, for
0.2 % more file bytes at 4 rows (``benchmarks/stream_layout.py``, ``results_stream_layout_cpu.json``, 2-core
AMD EPYC, 2026-12-07); 16 leaves SAMRS's smallest training split (SIOR, 11,725 tiles) 733 shards."""
ROW_GROUP_BYTES = 32 * 2**20
"""Arrow bytes per row group at most (~16 tiles of 1024): rows of dense tiles (many instances) close it early."""
SHARD_RE = re.compile(r"^(?P<split>\w+)-r(?P<rank>\d+)-(?P<index>\d+)\.parquet$")


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
        ids = pq.read_table(path, columns=["image_id"]).column("image_id").to_pylist()
        done.setdefault(shard_split(path), set()).update(ids)
    return done


def remove_partial_shards(folder: Path) -> int:
    """Delete the ``*.parquet.tmp`` a killed build left in ``folder/.incomplete``; returns how many."""
    partial = list((Path(folder) / STAGING).glob("*.parquet.tmp"))
    for path in partial:
        path.unlink()
    return len(partial)


def publish_staged(folder: Path) -> int:
    """Move the staged shards of ``folder`` next to its finished ones; returns how many moved."""
    staging = Path(folder) / STAGING
    staged = shard_files(staging)
    for path in staged:
        os.replace(path, Path(folder) / path.name)
    if staging.is_dir() and not any(staging.iterdir()):
        staging.rmdir()
    return len(staged)


def read_build_settings(folder: Path) -> dict | None:
    """The settings recorded in ``folder/.build.json``, or ``None`` when there are none."""
    path = Path(folder) / BUILD_SETTINGS
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def write_build_settings(folder: Path, settings: dict) -> Path:
    """Record the settings a subset's shards are built with (read back by resumes and the card)."""
    path = Path(folder) / BUILD_SETTINGS
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(settings, indent=2, sort_keys=True), encoding="utf-8")
    return path


class ShardWriter:
    """Writes encoded rows of one split and commits a shard to ``folder/.incomplete`` every ``rows_per_shard`` rows.

    Rows go to disk in Parquet row groups of at most :data:`ROW_GROUP_ROWS` rows or
    :data:`ROW_GROUP_BYTES`, so memory holds one row group, not a shard. Each shard is written to
    ``NAME.parquet.tmp`` and renamed when complete, so it appears whole or not at all. Shard
    indices continue after this rank's finished and staged shards, so resumed and grown builds
    append without a name clash.
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
        self._rows_in_shard = 0
        self._writer: pq.ParquetWriter | None = None

    @property
    def _path(self) -> Path:
        return self.staging / f"{self.split}-r{self.rank:02d}-{self.next_index:05d}.parquet"

    def add(self, example: dict) -> None:
        row = pa.Table.from_pylist([self.features.encode_example(example)], schema=self.features.arrow_schema)
        self._group.append(row)
        self._group_bytes += row.nbytes
        self._rows_in_shard += 1
        if len(self._group) >= ROW_GROUP_ROWS or self._group_bytes >= ROW_GROUP_BYTES:
            self._write_group()
        if self._rows_in_shard >= self.rows_per_shard:
            self.flush()

    def _write_group(self) -> None:
        if not self._group:
            return
        if self._writer is None:
            self._writer = pq.ParquetWriter(str(self._path) + ".tmp", self.features.arrow_schema)
        self._writer.write_table(pa.concat_tables(self._group))
        self._group, self._group_bytes = [], 0

    def flush(self) -> None:
        """Commit the rows added since the last shard as one shard (nothing when there are none)."""
        self._write_group()
        if self._writer is None:
            return
        self._writer.close()
        os.replace(self._writer.where, self._path)
        self._writer, self._rows_in_shard, self.next_index = None, 0, self.next_index + 1
