"""``samrs export-coco DATASET_DIR --config fast --out FILE.json``: COCO instances JSON with RLE masks."""

from __future__ import annotations

import argparse

from samrs_hf.cli.arguments import add_dataset_arguments, load_split


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export-coco",
        help="write one split of a subset as COCO instances JSON (RLE segmentation)",
        description="Category ids are the ClassLabel index + 1; file_name is the row's image_id.",
    )
    add_dataset_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from samrs_hf.dataset.coco import write_coco

    dataset = load_split(args)
    path = write_coco(dataset, args.out, description=f"SAMRS {args.config} {args.split}")
    print(f"wrote {path}")
    return 0
