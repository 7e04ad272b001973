"""The ``samrs`` command. Each subcommand lives in ``samrs_hf/commands/<name>.py`` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to the function that runs it."""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = ("demo", "ablate", "build", "push", "export_coco", "stats", "viz", "tiny_sam")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="samrs", description="Build SAMRS-style segmentation datasets from detection boxes with SAM."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"samrs_hf.commands.{name}")
        except ModuleNotFoundError as err:
            if err.name != f"samrs_hf.commands.{name}":
                raise
            continue  # command not part of this installation
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except KeyboardInterrupt:
        return 130
    except (FileNotFoundError, ValueError, OSError) as err:
        print(f"samrs {args.command}: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
