"""``samrs export-coco DATASET_DIR --config fast --out FILE.json``: COCO instances JSON with RLE masks."""

from __future__ import annotations

import argparse
from pathlib import Path

from samrs_hf.subsets import SUBSETS


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export-coco",
        help="write one split of a subset as COCO instances JSON (RLE segmentation)",
        description="Category ids are the ClassLabel index + 1; file_name is the row's image_id.",
    )
    parser.add_argument("dataset_dir", type=Path)
    parser.add_argument("--config", required=True, choices=sorted(SUBSETS))
    parser.add_argument("--split", default="train")
    parser.add_argument("--out", required=True, type=Path)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from datasets import load_dataset

    from samrs_hf.coco import write_coco

    dataset = load_dataset(str(args.dataset_dir), args.config, split=args.split)
    path = write_coco(dataset, args.out, description=f"SAMRS {args.config} {args.split}")
    print(f"wrote {path}")
    return 0
