"""``samrs stats DATASET_DIR --config sota --out DIR``: per-class pixels/instances and mask sizes."""

from __future__ import annotations

import argparse

from samrs_hf.cli.arguments import add_dataset_arguments, load_split, refuse_existing


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "stats",
        help="pixels and instances per category and the mask-size histogram (paper Figs. 5, 6)",
        description="Write {config}_stats.json and PNG figures to the folder --out (files that exist need "
        "--overwrite).",
    )
    add_dataset_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from samrs_hf.dataset.stats import compute_stats, save_stats, stats_paths

    refuse_existing(stats_paths(args.out, args.config), args.overwrite)
    stats = compute_stats(load_split(args))
    for path in save_stats(stats, args.out, args.config):
        print(f"wrote {path}")
    return 0
