"""``samrs finetune --dataset potsdam --root DIR --init SEP_MODEL [...]``: fine-tune a SEP model.

The flags are those of :class:`~samrs_hf.training.finetune.FinetuneArguments` (``samrs finetune
--help``), the same as ``examples/finetune.py``.
"""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "finetune",
        help="fine-tune a SEP model on ISPRS Potsdam or iSAID and report the paper's metrics",
        add_help=False,
    )
    parser.set_defaults(func=run, passes_flags_on=True)


def run(args: argparse.Namespace) -> int:
    from samrs_hf.cli.training_runner import run_training
    from samrs_hf.training.finetune import FinetuneArguments, finetune

    return run_training(FinetuneArguments, finetune, prog="samrs finetune", argv=args.flags)
