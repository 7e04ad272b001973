"""The runner of the commands whose flags are a training dataclass: ``samrs pretrain``, ``finetune``,
``train-sam`` and the examples' scripts (``examples/pretrain_sep.py``, ``examples/finetune.py``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from transformers import HfArgumentParser


class TrainingHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """``--help`` of the training flags: each default shown once (not when the help gives it, nor ``None``),
    and a ``--no_X`` switch says it turns ``--X`` off instead of repeating ``--X``'s help."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if isinstance(action, argparse._StoreFalseAction):
            return f"turn --{action.dest.replace('_', '-')} off"
        if action.default in (None, "") or "default" in (action.help or ""):
            return action.help or ""
        return super()._get_help_string(action)


def run_training(arguments: type, train: Callable, prog: str | None = None, argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default: the command line) into the ``arguments`` dataclass and call ``train`` on it.

    A ``ValueError`` or ``OSError`` (``FileNotFoundError``, connection errors) from checking the options or
    loading data and models is a user's mistake: one ``PROG: error: ...`` line on stderr (the message's line
    breaks joined), exit status 1.
    """
    parser = HfArgumentParser(arguments, prog=prog, formatter_class=TrainingHelpFormatter)
    (options,) = parser.parse_args_into_dataclasses(argv)
    try:
        train(options)
    except (ValueError, OSError) as error:
        print(f"{parser.prog}: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 1
    return 0
