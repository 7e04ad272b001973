"""The ``samrs`` command. Each subcommand lives in ``samrs_hf/cli/<name>.py`` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to the function that runs it
(``pretrain`` and ``finetune`` pass their flags on to the training dataclasses' own parser).
Command modules import the heavy libraries (torch, transformers, datasets) inside ``func``, so
``samrs --help`` and argument errors answer at once."""

from __future__ import annotations

import argparse
import sys
import traceback

from tqdm import tqdm

from samrs_hf.cli import (
    ablate,
    build,
    compare,
    demo,
    export_coco,
    export_release,
    finetune,
    import_release,
    prepare_training,
    pretrain,
    push,
    stats,
    tiny_sam,
    train_sam,
    viz,
)

COMMANDS = (
    demo,
    tiny_sam,
    build,
    import_release,
    export_release,
    compare,
    push,
    export_coco,
    stats,
    viz,
    ablate,
    prepare_training,
    pretrain,
    finetune,
    train_sam,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="samrs", description="Build SAMRS-style segmentation datasets from detection boxes with SAM."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(subparsers)
    return parser


EXIT_ERROR = 1
"""A mistake in the input or the arguments' values (``ValueError``, ``OSError``): one line on stderr."""
EXIT_USAGE = 2
"""argparse's status for a command line it cannot parse (an unknown flag or choice, a missing argument)."""
EXIT_BUG = 3
"""An unexpected error: a bug in samrs-hf, printed with its traceback."""
EXIT_INTERRUPTED = 130
"""Ctrl-C (128 + SIGINT, the shells' convention)."""


def main(argv: list[str] | None = None) -> int:
    """Run one ``samrs`` command; returns the exit status: 0, :data:`EXIT_ERROR` (1), :data:`EXIT_USAGE` (2,
    from argparse), :data:`EXIT_BUG` (3) or :data:`EXIT_INTERRUPTED` (130, Ctrl-C, with how to go on)."""
    parser = build_parser()
    args, args.flags = parser.parse_known_args(argv)
    if args.flags and not getattr(args, "passes_flags_on", False):
        parser.error(f"unrecognized arguments: {' '.join(args.flags)}")
    try:
        return args.func(args) or 0
    except KeyboardInterrupt:
        _report(args.command, getattr(args, "on_interrupt", "interrupted"))
        return EXIT_INTERRUPTED
    except (ValueError, OSError) as error:
        _report(args.command, f"error: {error}")
        return EXIT_ERROR
    except Exception:
        traceback.print_exc()
        _report(
            args.command,
            f"unexpected error (exit status {EXIT_BUG}): this is a bug in samrs-hf; "
            "please report it with the traceback above",
        )
        return EXIT_BUG
    finally:
        _close_process_group()


def _close_process_group() -> None:
    """End the process group a command ran under ``accelerate launch`` (left open, torchrun ranks can abort
    at exit after their work is done)."""
    if "torch" in sys.modules:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()


def _report(command: str, message: str) -> None:
    """Print ``message`` on its own line of stderr, below any progress bar."""
    tqdm.write(f"samrs {command}: {message}", file=sys.stderr)
