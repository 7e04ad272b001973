"""Up-front checks of the training options: a mistake costs one line naming the flag and the fix, at once.

The checks run before any data is read or model built; :func:`samrs_hf.cli.training_runner.run_training`
turns the errors they (and the loading that follows) raise into one ``PROG: error: ...`` line and exit status 1.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path

from samrs_hf.checkpoints import is_hub_id, require_hub_files
from samrs_hf.training.backbones import BACKBONES

WEIGHTS_FILES = ("model.safetensors", "model.safetensors.index.json")
"""Either file means a (possibly sharded) safetensors checkpoint."""


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'X'?)`` for the closest of ``choices`` (difflib), or ``""``."""
    close = difflib.get_close_matches(value, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_choice(flag: str, value: str, choices: Iterable[str], what: str) -> None:
    """``ValueError`` naming ``flag`` unless ``value`` is one of ``choices``."""
    choices = list(choices)
    if value not in choices:
        hint = did_you_mean(value, choices)
        raise ValueError(f"{flag}: unknown {what} {value!r}{hint}; choose from {', '.join(choices)}")


def check_folder_or_hub_id(flag: str, value: str, what: str) -> None:
    """``FileNotFoundError`` naming ``flag`` unless ``value`` is an existing folder or reads as a Hub id."""
    if not value:
        raise ValueError(f"{flag} is required: give {what}")
    if Path(value).is_dir() or (not Path(value).exists() and is_hub_id(value)):
        return
    problem = "is a file, not a folder" if Path(value).exists() else "is no folder here"
    raise FileNotFoundError(f"{flag}: {value!r} {problem}; give {what}")


def check_batch_size(batch_size: int, processes: int, accumulation: int, per_micro_batch: int, why: str) -> None:
    """``ValueError`` unless every process's micro-batch gets at least ``per_micro_batch`` samples.

    The loop splits the global batch over ``processes`` x ``accumulation`` micro-batches.
    """
    if accumulation < 1:
        raise ValueError(f"--gradient-accumulation-steps must be at least 1, got {accumulation}")
    needed = processes * accumulation * per_micro_batch
    if batch_size < needed:
        raise ValueError(
            f"--batch-size {batch_size} is too small for {processes} process(es) x {accumulation} accumulation "
            f"step(s): {why} needs at least {per_micro_batch} sample(s) per micro-batch; use --batch-size {needed} "
            "or more, or fewer processes / --gradient-accumulation-steps"
        )


def check_backbone(name: str) -> None:
    """A short name, an existing folder or a Hub id; else a ``ValueError`` / ``FileNotFoundError`` naming
    ``--backbone``."""
    if name in BACKBONES or Path(name).is_dir() or is_hub_id(name):
        return
    if "/" in name or Path(name).exists():
        raise FileNotFoundError(f"--backbone: {name!r} is no model folder; give a folder with a config.json")
    raise ValueError(
        f"--backbone: unknown backbone {name!r}{did_you_mean(name, BACKBONES)}; give one of "
        f"{', '.join(BACKBONES)}, a local model folder or a Hub id ORG/NAME"
    )


def require_backbone(name: str, pretrained: bool) -> None:
    """Make sure what the backbone ``name`` needs from the Hub (its weights when ``pretrained``; the config
    of a Hub id) is cached or downloadable (see :func:`require_hub_files`)."""
    if name in BACKBONES:
        if pretrained:
            repo = BACKBONES[name][0]
            require_hub_files(
                repo,
                [WEIGHTS_FILES],
                f"the ImageNet weights of {name} ({repo})",
                "pass --no-pretrained-backbone to start from random weights, or --backbone PATH to a local folder",
            )
    elif not Path(name).is_dir():
        require_hub_files(
            name,
            [("config.json",), WEIGHTS_FILES] if pretrained else [("config.json",)],
            f"the backbone {name}",
            f"pass --backbone {' / '.join(BACKBONES)} or a local folder",
        )
