"""``samrs pretrain [--dataset samrs --configs sota sior fast ...]``: SEP pre-training.

The flags are those of :class:`~samrs_hf.training.pretrain.SepArguments` (``samrs pretrain --help``),
the same as ``examples/pretrain_sep.py``; run either under ``accelerate launch`` for several GPUs.
"""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "pretrain",
        help="segmentation pre-training (SEP) on SAMRS subsets, one head per subset",
        add_help=False,
    )
    parser.set_defaults(func=run, passes_flags_on=True)


def run(args: argparse.Namespace) -> int:
    from samrs_hf.cli.training_runner import run_training
    from samrs_hf.training.pretrain import SepArguments, pretrain

    return run_training(SepArguments, pretrain, prog="samrs pretrain", argv=args.flags)
