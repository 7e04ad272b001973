"""``samrs export-coco DATASET_DIR --config fast --out PATH [--images DIR]``: COCO instances JSON with RLE
masks, and the tiles it names."""

from __future__ import annotations

import argparse
from pathlib import Path

from samrs_hf.cli.arguments import add_dataset_arguments, check_split, load_split, refuse_existing


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export-coco",
        help="write one split of a subset as COCO instances JSON (RLE segmentation), optionally with its tiles",
        description="Category ids are the ClassLabel index + 1; file_name is the row's image_id with the "
        "extension of its stored image (.png or .jpg), the name --images gives the tile.",
    )
    add_dataset_arguments(parser, out_help="a .json file, or a folder to hold {config}_{split}.json")
    parser.add_argument(
        "--images", type=Path, default=None, metavar="DIR", help="also write the tiles to DIR (new or empty)"
    )
    parser.set_defaults(func=run)


def output_path(out: Path, config: str, split: str) -> Path:
    """The JSON file to write: ``out`` itself, or ``out/{config}_{split}.json`` when ``out`` is a folder."""
    return out / f"{config}_{split}.json" if out.is_dir() or not out.suffix else out


def check_images_folder(images: Path | None, overwrite: bool) -> None:
    """``--images`` must be new or empty, or ``--overwrite`` given (tiles of the same name are replaced)."""
    if images is None or not images.exists():
        return
    if not images.is_dir():
        raise NotADirectoryError(f"--images {images} is a file, not a folder; choose another --images")
    if any(images.iterdir()) and not overwrite:
        raise FileExistsError(f"--images {images} is not empty; pass --overwrite to write the tiles into it")


def run(args: argparse.Namespace) -> int:
    check_split(args)
    path = output_path(args.out, args.config, args.split)
    refuse_existing([path], args.overwrite)
    check_images_folder(args.images, args.overwrite)
    from samrs_hf.dataset.coco import write_coco

    write_coco(load_split(args), path, f"SAMRS {args.config} {args.split}", args.images)
    print(f"wrote {path}" + (f" and the tiles in {args.images}" if args.images else ""))
    return 0
