"""What the integrity checks cost: Parquet page checksums, and the training cache's checks.

On ``--tiles`` synthetic tiles (``sep_input.py``'s realistic texture and label map, written by the
library's own writer, so with page checksums):

  parquet write      each shard's rows written again with and without ``write_page_checksum``
  parquet read       each shard read whole with and without ``page_checksum_verification``
  datasets load      ``load_dataset`` of the folder (its conversion to Arrow) with and without
                     page verification, as ``samrs_hf.dataset.folder.load_subset`` calls it
  cache open         ``open_cache``: meta.json, tiles.npy's sha256 and layout, file sizes (no pixels)
  cache first read   ``source[i]`` and a 224x224 crop's copy, first read of each tile in a process
                     (checks the tile's labels against their CRC-32) against a later read

Each way runs once per repeat, in turn (with and without checks first in alternate repeats), and its
best repeat counts. ``--json`` writes the result::

    python benchmarks/integrity_checks.py --tiles 32 --json benchmarks/results_integrity_cpu.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import torch
from common import machine
from datasets import load_dataset
from sep_input import make_synthetic

from samrs_hf.dataset.folder import load_subset
from samrs_hf.dataset.shards import ROW_GROUP_ROWS, shard_files
from samrs_hf.training.cache import open_cache
from samrs_hf.training.cache_writer import write_cache

CROP = 224


def best(times: dict[str, float], way: str, seconds: float) -> None:
    times[way] = min(times.get(way, float("inf")), seconds)


def timed(call, *args, **kwargs) -> float:
    start = time.perf_counter()
    call(*args, **kwargs)
    return time.perf_counter() - start


def parquet_times(shards: list[Path], scratch: Path, times: dict[str, float], order: tuple[bool, bool]) -> None:
    """Write every shard's rows again with and without page checksums; read every shard (written with
    checksums) whole with and without verifying them."""
    tables = [pq.read_table(path) for path in shards]
    written = scratch / "written"
    for checksum in order:
        shutil.rmtree(written, ignore_errors=True)
        written.mkdir()
        seconds = sum(
            timed(pq.write_table, table, written / f"{i}.parquet", row_group_size=ROW_GROUP_ROWS,
                  write_page_checksum=checksum)
            for i, table in enumerate(tables)
        )  # fmt: skip
        best(times, f"parquet write, checksums {'on' if checksum else 'off'}", seconds)
    for verify in (True, False):  # the files written last, without checksums: reading still verifies nothing
        files = sorted((scratch / "written").glob("*.parquet")) if not verify else shards
        seconds = sum(
            timed(lambda p, v: pq.ParquetFile(p, page_checksum_verification=v).read(), p, verify) for p in files
        )
        best(times, f"parquet read, verification {'on' if verify else 'off'}", seconds)


def datasets_times(dataset: Path, scratch: Path, times: dict[str, float], order: tuple[bool, bool]) -> None:
    """``load_dataset`` of the folder into a fresh cache, with and without page verification."""
    for verify in order:
        cache = Path(tempfile.mkdtemp(dir=scratch))
        options = {"fragment_scan_options": ds.ParquetFragmentScanOptions(page_checksum_verification=True)}
        seconds = timed(load_dataset, str(dataset), "sota", cache_dir=str(cache), **(options if verify else {}))
        best(times, f"datasets load, verification {'on' if verify else 'off'}", seconds)
        shutil.rmtree(cache)


def cache_times(dataset: Path, cache: Path, times: dict[str, float]) -> None:
    """Open the cache, then read every tile and copy a crop: first reads (labels' CRC-32), then later reads."""
    rows = load_subset(dataset, "sota", "train")
    best(times, "cache open", timed(open_cache, cache, rows))
    source = open_cache(cache, rows)

    def read_all() -> None:
        for index in range(len(source)):
            image, label = source[index]
            image[:CROP, :CROP].copy(), label[:CROP, :CROP].copy()

    best(times, "cache first read of every tile", timed(read_all))
    best(times, "cache later read of every tile", timed(read_all))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiles", type=int, default=32, help="synthetic 1024x1024 tiles (default: %(default)s)")
    parser.add_argument("--tile-size", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None, help="write the result here")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="samrs-integrity-") as scratch:
        scratch = Path(scratch)
        dataset, cache = scratch / "samrs", scratch / "cache" / "sota" / "train"
        make_synthetic(dataset, ["sota"], args.tiles, args.tile_size)
        write_cache(load_subset(dataset, "sota", "train"), cache)
        shards = shard_files(dataset / "sota", "train")
        parquet_bytes = sum(path.stat().st_size for path in shards)
        times: dict[str, float] = {}
        for repeat in range(args.repeats):
            print(f"repeat {repeat + 1} of {args.repeats}", flush=True)
            order = (True, False) if repeat % 2 == 0 else (False, True)  # each way first as often
            parquet_times(shards, scratch, times, order)
            datasets_times(dataset, scratch, times, order)
            cache_times(dataset, cache, times)
    result = {
        "setup": {"tiles": args.tiles, "tile_size": args.tile_size, "repeats": args.repeats,
                  "parquet_mib": round(parquet_bytes / 2**20, 1), "crop": CROP},
        "seconds": {way: round(seconds, 6) for way, seconds in times.items()},
        "overhead_percent": {
            what: round(100 * (times[f"{what}, {on}"] / times[f"{what}, {off}"] - 1), 1)
            for what, on, off in (("parquet write", "checksums on", "checksums off"),
                                  ("parquet read", "verification on", "verification off"),
                                  ("datasets load", "verification on", "verification off"))
        },
        "cache_ms_per_tile": {
            "open": round(1e3 * times["cache open"] / args.tiles, 3),
            "first read (CRC-32 of the labels)": round(1e3 * times["cache first read of every tile"] / args.tiles, 3),
            "later read": round(1e3 * times["cache later read of every tile"] / args.tiles, 3),
        },
        "machine": {**machine(torch.device("cpu")), "load_average_1min": [load_before, os.getloadavg()[0]]},
    }  # fmt: skip
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
