"""``samrs stats DATASET_DIR --config sota --out DIR``: per-class pixels/instances and mask sizes."""

from __future__ import annotations

import argparse
from pathlib import Path

from samrs_hf.subsets import SUBSETS


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "stats",
        help="pixels and instances per category and the mask-size histogram (paper Figs. 5, 6)",
        description="Write {config}_stats.json and PNG figures to --out.",
    )
    parser.add_argument("dataset_dir", type=Path)
    parser.add_argument("--config", required=True, choices=sorted(SUBSETS))
    parser.add_argument("--split", default="train")
    parser.add_argument("--out", required=True, type=Path)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from datasets import load_dataset

    from samrs_hf.stats import compute_stats, save_stats

    stats = compute_stats(load_dataset(str(args.dataset_dir), args.config, split=args.split))
    for path in save_stats(stats, args.out, args.config):
        print(f"wrote {path}")
    return 0
