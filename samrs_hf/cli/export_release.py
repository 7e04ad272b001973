"""``samrs export-release DATASET_DIR --config C --out RELEASE_DIR``: a SAMRS folder in the authors' release layout."""

from __future__ import annotations

import argparse
from pathlib import Path

from samrs_hf.cli.arguments import check_split
from samrs_hf.dataset.subsets import SUBSETS


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export-release",
        help="write a subset in the official SAMRS release layout (images, gray/, color/, ins/*.pkl, split lists)",
        description="The reverse of `samrs import-release`: train -> train.txt, validation -> valid.txt, "
        "images as stored when already PNG (SOTA, FAST) or JPEG (SIOR).",
    )
    parser.add_argument("dataset_dir", type=Path, help="a dataset folder written by `samrs build` or `import-release`")
    parser.add_argument("--config", required=True, choices=sorted(SUBSETS), help="subset to export")
    parser.add_argument("--split", nargs="+", default=None, help="dataset splits (default: all)")
    parser.add_argument("--out", required=True, type=Path, help="a new or empty folder for the release layout")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    for split in args.split or [None]:
        check_split(argparse.Namespace(dataset_dir=args.dataset_dir, config=args.config, split=split))
    from samrs_hf.dataset.release import export_release

    summary = export_release(args.dataset_dir, args.config, args.out, args.split)
    print(f"exported {args.config} of {args.dataset_dir} to {args.out}\n{summary.format()}")
    return 0
