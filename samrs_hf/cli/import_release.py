"""``samrs import-release {sota,sior,fast} --root RELEASE_DIR --out DIR``: the authors' SAMRS release as a SAMRS folder.

Reads the official layout (images, ``{hbox|rhbox}_segs*/gray`` and ``ins``, ``train.txt`` /
``valid.txt``; :mod:`samrs_hf.dataset.release`) and writes the ``samrs build`` schema and card. Rerunning
resumes; split across processes with ``accelerate launch -m samrs_hf.cli import-release ...``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from samrs_hf.cli.arguments import (
    add_image_limit_argument,
    add_subset_argument,
    add_writer_arguments,
    apply_image_limit,
)


def _split_list(text: str) -> tuple[str, Path]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=FILE (e.g. train=train.txt)")
    return name, Path(path)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "import-release",
        help="import one subset of the authors' SAMRS release (images, gray/ PNGs, ins/ pkls) as a SAMRS folder",
        description="Write the release's images, semantic maps (byte for byte) and instances as Parquet shards + a "
        "dataset card, like `samrs build`. Folders are detected under --root; the options below override any part. "
        "Rerunning resumes; works under `accelerate launch`.",
    )
    add_subset_argument(parser)
    parser.add_argument("--root", required=True, type=Path, help="the release's folder of this subset")
    parser.add_argument("--out", required=True, type=Path, help="dataset folder (Parquet shards + README.md)")
    parser.add_argument(
        "--images", nargs="+", type=Path, default=None, help="image folder(s) (default: images/ or JPEGImages*/)"
    )
    parser.add_argument("--gray", type=Path, default=None, help="semantic maps (default: {hbox|rhbox}_segs*/gray)")
    parser.add_argument("--ins", type=Path, default=None, help="instance pkls (default: {hbox|rhbox}_segs*/ins)")
    parser.add_argument(
        "--split-list",
        type=_split_list,
        action="append",
        default=None,
        metavar="NAME=FILE",
        help="a split and its list of names, repeatable (default: train=train.txt validation=valid.txt)",
    )
    parser.add_argument("--limit", type=int, default=None, help="only the first N names of each split list")
    add_writer_arguments(parser, "tiles with a bad pkl, an unreadable image or map, or mismatched sizes")
    add_image_limit_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    apply_image_limit(args)
    split_lists = dict(args.split_list) if args.split_list else None

    from accelerate import PartialState

    from samrs_hf.dataset.release import ImportOptions, import_release

    options = ImportOptions(
        subset=args.subset,
        root=args.root,
        out=args.out,
        images=tuple(args.images) if args.images else None,
        gray=args.gray,
        ins=args.ins,
        split_lists=split_lists,
        limit=args.limit,
        rows_per_shard=args.rows_per_shard,
        skip_bad=args.skip_bad,
        overwrite=args.overwrite,
    )
    summary = import_release(options)
    state = PartialState()
    if state.is_main_process:
        print(f"imported the {args.subset} release into {args.out}\n{summary.format()}")
    return 0
