"""``samrs train-sam --model M --train SRC [--eval SRC] --output-dir D``: tune SAM on true masks.

The flags are those of :class:`~samrs_hf.samtuning.trainer.TrainSamArguments` (``samrs train-sam --help``);
run under ``accelerate launch`` for several processes or GPUs.
"""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "train-sam",
        help="tune SAM, SAM-HQ or SAM 2 on true masks (COCO JSON, HRSC2016, synthetic scenes)",
        add_help=False,
    )
    parser.set_defaults(func=run, passes_flags_on=True)


def run(args: argparse.Namespace) -> int:
    from samrs_hf.cli.training_runner import run_training
    from samrs_hf.samtuning.trainer import TrainSamArguments, train_sam

    return run_training(TrainSamArguments, train_sam, prog="samrs train-sam", argv=args.flags)
