"""``samrs build {sota,sior,fast} --root RAW --out DIR --model SAM``: label a subset with SAM.

Runs as is on one device, or split across processes with ``accelerate launch``::

    accelerate launch --num_processes 8 -m samrs_hf.cli build fast --root FAIR1M-2.0 --out samrs
"""

from __future__ import annotations

import argparse
from pathlib import Path

from samrs_hf.cli.arguments import (
    add_image_limit_argument,
    add_sam_arguments,
    add_subset_argument,
    add_writer_arguments,
    apply_image_limit,
    decoding_of,
)
from samrs_hf.dataset.subsets import RECIPES


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "build",
        help="build a SAMRS subset (sota, sior, fast) or your own COCO detection file (coco) with SAM",
        description="Tile a raw detection dataset, label every object with SAM using the paper's prompt, "
        "and write Parquet shards + a dataset card. Rerunning resumes; works under `accelerate launch`.",
    )
    add_subset_argument(parser, RECIPES)
    parser.add_argument(
        "--root", required=True, type=Path, help="raw detection dataset folder (coco: the instance .json file)"
    )
    parser.add_argument("--out", required=True, type=Path, help="dataset folder (Parquet shards + README.md)")
    add_sam_arguments(parser, "facebook/sam-vit-huge", device_help="the process's accelerate device")
    parser.add_argument(
        "--split",
        nargs="+",
        default=None,
        help="source splits (default: the paper's, e.g. train val for SOTA); 'all' reads the whole root",
    )
    parser.add_argument("--limit", type=int, default=None, help="only the first N images of each split")
    parser.add_argument(
        "--image-batch-size", type=int, default=None, help="tiles per encoder call (default: 1 on a CPU, 4 on a GPU)"
    )
    parser.add_argument("--prompt", default=None, help="override the paper's prompt (e.g. 'hbox', 'cp+rhbox')")
    add_writer_arguments(parser, "bad annotations and unreadable images")
    add_image_limit_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build with the options as given: :func:`~samrs_hf.dataset.build.build_subset` checks them all before
    any work."""
    apply_image_limit(args)

    from accelerate import PartialState

    from samrs_hf.dataset.build import BuildOptions, build_subset

    options = BuildOptions(
        subset=args.subset,
        root=args.root,
        out=args.out,
        model=args.model,
        splits=tuple(args.split) if args.split else None,
        limit=args.limit,
        prompt=args.prompt,
        prompt_batch_size=args.prompt_batch_size,
        image_batch_size=args.image_batch_size,
        device=args.device,
        dtype=args.dtype,
        decoding=decoding_of(args),
        compile=args.compile,
        rows_per_shard=args.rows_per_shard,
        skip_bad=args.skip_bad,
        overwrite=args.overwrite,
    )
    summary = build_subset(options)
    if PartialState().is_main_process:
        print(f"built {args.subset} into {args.out}\n{summary.format()}")
    return 0
