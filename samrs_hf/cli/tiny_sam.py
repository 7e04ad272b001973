"""``samrs tiny-sam DIR``: write a small random SAM for offline smoke runs."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "tiny-sam",
        help="write a tiny randomly initialised SAM (model + processor) for offline smoke runs",
        description="Write a tiny random SAM to DIR. Its masks are meaningless: it exercises the "
        "pipeline without Hub access. Use a real checkpoint (facebook/sam-vit-huge) for data.",
    )
    parser.add_argument("out", help="folder to write the model to")
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from samrs_hf.experiments.tiny_sam import save_tiny_sam

    path = save_tiny_sam(args.out, seed=args.seed)
    print(f"wrote a tiny random SAM to {path}")
    return 0
