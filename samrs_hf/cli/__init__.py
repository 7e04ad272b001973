"""The ``samrs`` command. Each subcommand lives in ``samrs_hf/cli/<name>.py`` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to the function that runs it
(``pretrain`` and ``finetune`` pass their flags on to the training dataclasses' own parser).
Command modules import the heavy libraries (torch, transformers, datasets) inside ``func``, so
``samrs --help`` and argument errors answer at once."""

from __future__ import annotations

import argparse
import sys

from samrs_hf.cli import (
    ablate,
    build,
    demo,
    export_coco,
    finetune,
    prepare_training,
    pretrain,
    push,
    stats,
    tiny_sam,
    viz,
)

COMMANDS = (demo, tiny_sam, build, push, export_coco, stats, viz, ablate, prepare_training, pretrain, finetune)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="samrs", description="Build SAMRS-style segmentation datasets from detection boxes with SAM."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, args.flags = parser.parse_known_args(argv)
    if args.flags and not getattr(args, "passes_flags_on", False):
        parser.error(f"unrecognized arguments: {' '.join(args.flags)}")
    try:
        return args.func(args) or 0
    except KeyboardInterrupt:
        return 130
    except (FileNotFoundError, ValueError, OSError) as err:
        print(f"samrs {args.command}: error: {err}", file=sys.stderr)
        return 1
