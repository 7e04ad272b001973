"""``samrs tiny-sam DIR [--family FAMILY]``: write a small random checkpoint for offline smoke runs."""

from __future__ import annotations

import argparse

from samrs_hf.cli.arguments import SAM_FAMILIES


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "tiny-sam",
        help="write a tiny randomly initialised SAM-family checkpoint (model + processor) for offline smoke runs",
        description="Write a tiny random checkpoint to DIR. Its masks are meaningless: it exercises the "
        "pipeline without Hub access. Use a real checkpoint (facebook/sam-vit-huge) for data.",
    )
    parser.add_argument("out", help="folder to write the model to")
    parser.add_argument(
        "--family", default="sam", choices=SAM_FAMILIES, metavar="FAMILY", help="%(choices)s (default: %(default)s)"
    )
    parser.add_argument(
        "--size",
        default="tiny",
        choices=("tiny", "small"),
        help="tiny: the family's real frame, narrow layers (default); small (SAM only): the embedded model's "
        "starting point, a 384-pixel frame, 64 wide, 4 layers",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from samrs_hf.experiments.tiny_sam import save_small_sam, save_tiny_sam

    if args.size == "small":
        if args.family != "sam":
            raise ValueError(f"--size small is a SAM; drop --family {args.family}")
        path = save_small_sam(args.out, seed=args.seed)
    else:
        path = save_tiny_sam(args.out, seed=args.seed, family=args.family)
    print(f"wrote a {args.size} random {args.family} checkpoint to {path}")
    return 0
