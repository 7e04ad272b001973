"""Parquet row groups for streaming: what a row group's size costs a reader of ``--streaming`` pre-training.

The same ``--tiles`` synthetic 1024 tiles (``sep_input.synthetic_row``: ~1.9 MB of PNG each) are written
through the library's writer once per row-group size in ``--row-groups`` (rows; the byte limit lifted), into
one shard file each, and read the way ``--streaming`` reads (``open_stream``: one shard per row group).
Per size: the file's bytes, the shards a config offers processes x workers, seconds to the first row,
rows/s after the first (encoded rows, no decoding), the memory reading adds (``datasets`` holds one row
group as an Arrow batch), and seconds to the first row after resuming in the middle of the last row group::

    cd benchmarks && ../.venv/bin/python stream_layout.py --json results_stream_layout_cpu.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import sep_input
import torch
from common import PeakMemory, machine

from samrs_hf.dataset import shards
from samrs_hf.dataset.subsets import SUBSETS
from samrs_hf.dataset.writer import SubsetWriter
from samrs_hf.training.streaming import open_stream


@contextmanager
def row_groups_of(rows: int):
    """For the block, ``ShardWriter`` closes a row group every ``rows`` rows, whatever their bytes."""
    saved = shards.ROW_GROUP_ROWS, shards.ROW_GROUP_BYTES
    shards.ROW_GROUP_ROWS, shards.ROW_GROUP_BYTES = rows, 2**62
    try:
        yield
    finally:
        shards.ROW_GROUP_ROWS, shards.ROW_GROUP_BYTES = saved


def write(root: Path, rows: list[dict], group_rows: int) -> Path:
    """``rows`` as the train split of a SOTA subset in ``root``: one shard, row groups of ``group_rows``."""
    writer = SubsetWriter(root, SUBSETS["sota"], rows_per_shard=len(rows))
    writer.prepare({})
    with row_groups_of(group_rows), writer.open() as put:
        for row in rows:
            put("train", lambda row=row: row)
    writer.finish()
    return root


def read(root: Path) -> dict:
    """Seconds to the first row, rows/s and the memory added while streaming ``root``'s sota train split."""
    memory = PeakMemory(torch.device("cpu"))
    with memory.measure():
        start = time.perf_counter()
        stream = open_stream(str(root), "sota", "train")
        rows = iter(stream)
        next(rows)
        first = time.perf_counter() - start
        count = sum(1 for _ in rows)
        seconds = time.perf_counter() - start - first
    return {
        "shards": stream.num_shards,
        "first_row_s": round(first, 3),
        "rows_per_s_after_the_first": round(count / seconds, 1),
        "memory_added_mib": round(memory.peak_mib - memory.start_mib, 1),
    }


def resume(root: Path, group_rows: int, rows: int) -> float:
    """Seconds to the first row of a stream restored in the middle of the last row group."""
    stream = open_stream(str(root), "sota", "train")
    iterator = iter(stream)
    for _ in range(rows - max(1, group_rows // 2)):
        next(iterator)
    state = stream.state_dict()
    start = time.perf_counter()
    restored = open_stream(str(root), "sota", "train")
    restored.load_state_dict(state)
    next(iter(restored))
    return round(time.perf_counter() - start, 3)


def run(args: argparse.Namespace) -> dict:
    print(f"making {args.tiles} tiles of {args.tile_size} px", flush=True)
    rows = [sep_input.synthetic_row(index, args.tile_size, 18) for index in range(args.tiles)]
    row_bytes = sum(len(row["image"]["bytes"]) + len(row["semantic_map"]["bytes"]) for row in rows) / len(rows)
    sizes = []
    with tempfile.TemporaryDirectory() as scratch:
        for group_rows in args.row_groups:
            print(f"row groups of {group_rows} rows", flush=True)
            root = write(Path(scratch) / f"rg{group_rows}", rows, group_rows)
            (shard,) = (root / "sota").glob("train-*.parquet")
            measured = {"row_group_rows": group_rows, "file_bytes": shard.stat().st_size, **read(root)}
            measured["resume_first_row_s"] = resume(root, group_rows, len(rows))
            sizes.append(measured)
    return {
        "tiles": args.tiles,
        "tile_size": args.tile_size,
        "encoded_bytes_per_row": round(row_bytes),
        "sizes": sizes,
        "machine": machine(torch.device("cpu")),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, required=True, help="where the results go")
    parser.add_argument("--tiles", type=int, default=128)
    parser.add_argument("--tile-size", type=int, default=1024)
    parser.add_argument("--row-groups", type=int, nargs="+", default=[4, 8, 16, 32, 64, 128])
    args = parser.parse_args(argv)
    result = run(args)
    args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result["sizes"], indent=1))
    return result


if __name__ == "__main__":
    main()
