"""``samrs prepare-training DATASET --configs sota sior fast [--out CACHE]``: the decoded training cache.

Decodes each split's image and label PNGs once into raw uint8 arrays that SEP training memory-maps
(4 bytes per pixel: 4 MiB per 1024x1024 tile); with it one DataLoader worker makes several times
more augmented samples per second (``benchmarks/README.md``). Without ``--out`` it goes where
training looks by default (``samrs_hf.training.cache.default_cache_dir``). The work is one call,
:func:`samrs_hf.training.cache_writer.prepare_training_cache`.
"""

from __future__ import annotations

import argparse
import os

from samrs_hf.dataset.subsets import SUBSETS


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "prepare-training",
        help="decode a SAMRS dataset's images and label maps once, for fast SEP training",
        description="Write the decoded training cache (raw uint8 arrays, 4 bytes per pixel) of each config and split.",
    )
    parser.add_argument("dataset", help="SAMRS dataset folder or Hub id (as given to `samrs pretrain --dataset`)")
    parser.add_argument("--configs", nargs="+", default=["sota", "sior", "fast"], choices=sorted(SUBSETS))
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
    from samrs_hf.training.cache_writer import prepare_training_cache

    for line in prepare_training_cache(args.dataset, args.configs, args.splits, args.out, args.workers):
        print(line)
    return 0
