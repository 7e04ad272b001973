"""``samrs prepare-training DATASET --configs sota sior fast [--out CACHE]``: the decoded training cache.

Decodes each split's image and label PNGs once into raw uint8 arrays that SEP training memory-maps
(4 bytes per pixel: 4 MiB per 1024x1024 tile); with it one DataLoader worker makes several times
more augmented samples per second (``benchmarks/README.md``). Without ``--out`` it goes where
training looks by default (``samrs_hf.training.cache.default_cache_dir``). The work is one call,
:func:`samrs_hf.training.cache_writer.prepare_training_cache`; each config's folder of the cache is locked
for the whole command: a second run into it fails at once, naming the first.
"""

from __future__ import annotations

import argparse
import os
from contextlib import ExitStack
from pathlib import Path

from samrs_hf.dataset.subsets import SUBSETS


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "prepare-training",
        help="decode a SAMRS dataset's images and label maps once, for fast SEP training",
        description="Write the decoded training cache (raw uint8 arrays, 4 bytes per pixel) of each config and split.",
    )
    parser.add_argument("dataset", help="SAMRS dataset folder or Hub id (as given to `samrs pretrain --dataset`)")
    parser.add_argument(
        "--configs", nargs="+", default=list(SUBSETS), choices=sorted(SUBSETS), help="default: %(default)s"
    )
    parser.add_argument(
        "--splits",
        nargs="+",
        default=["train", "validation"],
        help="splits to cache, those present (default: %(default)s)",
    )
    parser.add_argument("--out", default=None, help="cache folder (default: where training looks for it)")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count(), help="decoding processes (default: %(default)s, the CPU count)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from samrs_hf.dataset.lock import folder_lock
    from samrs_hf.training.cache import default_cache_dir
    from samrs_hf.training.cache_writer import prepare_training_cache

    out = Path(args.out or default_cache_dir(args.dataset))
    with ExitStack() as locks:  # every config's folder is ours before anything is read or written
        for config in args.configs:
            locks.enter_context(folder_lock(out / config))
        lines = prepare_training_cache(args.dataset, args.configs, args.splits, out, args.workers)
    print("\n".join(lines))
    return 0
