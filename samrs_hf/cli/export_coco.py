"""``samrs export-coco DATASET_DIR --config fast --out PATH``: COCO instances JSON with RLE masks."""

from __future__ import annotations

import argparse
from pathlib import Path

from samrs_hf.cli.arguments import add_dataset_arguments, check_split, load_split


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export-coco",
        help="write one split of a subset as COCO instances JSON (RLE segmentation)",
        description="Category ids are the ClassLabel index + 1; file_name is the row's image_id.",
    )
    add_dataset_arguments(parser, out_help="a .json file, or a folder to hold {config}_{split}.json")
    parser.add_argument("--overwrite", action="store_true", help="replace the JSON file when it exists")
    parser.set_defaults(func=run)


def output_path(out: Path, config: str, split: str, overwrite: bool) -> Path:
    """The JSON file to write: ``out`` itself, or ``out/{config}_{split}.json`` when ``out`` is a folder."""
    path = out / f"{config}_{split}.json" if out.is_dir() or not out.suffix else out
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass --overwrite to replace it, or choose another --out")
    return path


def run(args: argparse.Namespace) -> int:
    check_split(args)
    path = output_path(args.out, args.config, args.split, args.overwrite)
    from samrs_hf.dataset.coco import write_coco

    write_coco(load_split(args), path, description=f"SAMRS {args.config} {args.split}")
    print(f"wrote {path}")
    return 0
