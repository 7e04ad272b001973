"""Up-front checks of the training options: a mistake costs one line naming the flag and the fix, at once.

The checks run before any data is read or model built; ``run_training`` turns the errors they (and the
loading that follows) raise into one ``PROG: error: ...`` line and exit status 1.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import huggingface_hub
from huggingface_hub import HfApi, try_to_load_from_cache
from huggingface_hub.errors import HfHubHTTPError, HFValidationError
from huggingface_hub.utils import validate_repo_id
from transformers import HfArgumentParser

from samrs_hf.training.backbones import BACKBONES

HUB_TIMEOUT_S = 3.0
"""How long the reachability probe waits for the Hub (it answers in well under a second when online)."""

WEIGHTS_FILES = ("model.safetensors", "model.safetensors.index.json")
"""Either file means a (possibly sharded) safetensors checkpoint."""

MIN_MICRO_BATCH = {"upernet": 2, "unet": 1}
"""Samples a training micro-batch needs per decoder: UperNet's pyramid pooling batch-normalises 1x1 maps."""


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


def is_hub_id(value: str) -> bool:
    """Whether ``value`` reads as a Hub repo id ``ORG/NAME`` (not a path like ``./x``, ``/x`` or ``a/b/c``)."""
    if value.count("/") != 1 or value.startswith((".", "/", "~")):
        return False
    try:
        validate_repo_id(value)
    except HFValidationError:
        return False
    return True


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


def hub_reachable(repo_id: str) -> bool:
    """Whether the Hub answers at all (any HTTP answer, even 404) within :data:`HUB_TIMEOUT_S`; ``False`` in
    offline mode (``HF_HUB_OFFLINE``) without asking."""
    if huggingface_hub.is_offline_mode():
        return False
    try:
        HfApi().model_info(repo_id, timeout=HUB_TIMEOUT_S)
    except HfHubHTTPError:
        return True
    except Exception:  # no answer: DNS, refused connection, timeout, proxy failure
        return False
    return True


def is_cached(repo_id: str, filenames: Iterable[str]) -> bool:
    """Whether one of ``filenames`` of ``repo_id`` is in the local Hugging Face cache."""
    return any(isinstance(try_to_load_from_cache(repo_id, name), str) for name in filenames)


def require_hub_files(repo_id: str, needs: list[tuple[str, ...]], what: str, fix: str) -> None:
    """Make sure ``repo_id`` can be loaded: every group of ``needs`` (alternative file names) is in the local
    cache (transformers then loads it even when the Hub is unreachable), or the Hub answers.

    Otherwise ``OSError`` "cannot load WHAT: offline and not cached; FIX", at once: a download attempt would
    retry for about 23 s (huggingface_hub 2.4) before failing with tracebacks.
    """
    if all(is_cached(repo_id, names) for names in needs) or hub_reachable(repo_id):
        return
    reason = "offline" if huggingface_hub.is_offline_mode() else f"{huggingface_hub.constants.ENDPOINT} unreachable"
    raise OSError(f"cannot load {what}: {reason} and not cached; {fix}")


def run_training(arguments: type, train: Callable, prog: str | None = None, argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default: the command line) into the ``arguments`` dataclass and call ``train`` on it.

    A ``ValueError`` or ``OSError`` (``FileNotFoundError``, connection errors) from checking the options or
    loading data and models is a user's mistake: one ``PROG: error: ...`` line on stderr (the message's line
    breaks joined), exit status 1.
    """
    parser = HfArgumentParser(arguments, prog=prog)
    (options,) = parser.parse_args_into_dataclasses(argv)
    try:
        train(options)
    except (ValueError, OSError) as error:
        print(f"{parser.prog}: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 1
    return 0
