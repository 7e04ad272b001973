"""Parquet shards of a SAMRS dataset folder, and the bookkeeping that lets a killed build resume.

Layout of ``DATASET_DIR`` (the same on the Hub, so ``load_dataset`` reads both)::

    README.md                               card; YAML ``configs:`` names every built subset
    sota/build.json                         settings the shards were built with (model, prompt, tiling)
    sota/train-r00-00000.parquet            {config}/{split}-r{rank}-{index}.parquet
    sota/validation-r01-00003.parquet
    fast/...

Shards are written to ``*.parquet.tmp`` and renamed when complete, so a killed build leaves
only whole shards; :func:`committed_ids` recovers the tiles they hold for resuming.
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
    "ShardWriter",
    "committed_ids",
    "read_build_settings",
    "remove_partial_shards",
    "shard_files",
    "shard_split",
    "write_build_settings",
]

BUILD_SETTINGS = "build.json"
SHARD_RE = re.compile(r"^(?P<split>\w+)-r(?P<rank>\d+)-(?P<index>\d+)\.parquet$")


def shard_files(folder: Path, split: str | None = None) -> list[Path]:
    """Committed shards in ``folder`` (optionally of one split), sorted by name."""
    files = [p for p in Path(folder).glob("*.parquet") if SHARD_RE.match(p.name)]
    return sorted(p for p in files if split is None or shard_split(p) == split)


def shard_split(path: Path) -> str:
    """The split a committed shard belongs to (from its name)."""
    return SHARD_RE.match(Path(path).name)["split"]


def committed_ids(folder: Path) -> dict[str, set[str]]:
    """``split -> image ids`` already in committed shards (what a resumed build skips)."""
    done: dict[str, set[str]] = {}
    for path in shard_files(folder):
        ids = pq.read_table(path, columns=["image_id"]).column("image_id").to_pylist()
        done.setdefault(shard_split(path), set()).update(ids)
    return done


def remove_partial_shards(folder: Path) -> int:
    """Delete ``*.parquet.tmp`` left by a killed build; returns how many there were."""
    partial = list(Path(folder).glob("*.parquet.tmp"))
    for path in partial:
        path.unlink()
    return len(partial)


def read_build_settings(folder: Path) -> dict | None:
    """The settings recorded in ``folder/build.json``, or ``None`` when there are none."""
    path = Path(folder) / BUILD_SETTINGS
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def write_build_settings(folder: Path, settings: dict) -> Path:
    """Record the settings a subset's shards are built with (read back by resumes and the card)."""
    path = Path(folder) / BUILD_SETTINGS
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(settings, indent=2, sort_keys=True), encoding="utf-8")
    return path


class ShardWriter:
    """Buffers encoded rows of one split and commits a shard every ``rows_per_shard`` rows.

    Each shard is written to ``NAME.parquet.tmp`` and renamed, so it appears whole or not at
    all. Shard indices continue after this rank's committed shards, so resumed builds append.
    """

    def __init__(self, folder: Path, split: str, features: Features, rank: int = 0, rows_per_shard: int = 256):
        if rows_per_shard < 1:
            raise ValueError(f"rows_per_shard must be >= 1, got {rows_per_shard}")
        self.folder, self.split, self.features = Path(folder), split, features
        self.rank, self.rows_per_shard = rank, rows_per_shard
        self.folder.mkdir(parents=True, exist_ok=True)
        own = [SHARD_RE.match(p.name) for p in shard_files(self.folder, split)]
        indices = [int(m["index"]) for m in own if int(m["rank"]) == rank]
        self.next_index = max(indices, default=-1) + 1
        self.rows: list[dict] = []

    def add(self, example: dict) -> None:
        self.rows.append(self.features.encode_example(example))
        if len(self.rows) >= self.rows_per_shard:
            self.flush()

    def flush(self) -> None:
        """Commit the buffered rows as one shard (nothing when the buffer is empty)."""
        if not self.rows:
            return
        path = self.folder / f"{self.split}-r{self.rank:02d}-{self.next_index:05d}.parquet"
        tmp = path.with_name(path.name + ".tmp")
        table = pa.Table.from_pylist(self.rows, schema=self.features.arrow_schema)
        pq.write_table(table, tmp)
        os.replace(tmp, path)
        self.rows, self.next_index = [], self.next_index + 1
