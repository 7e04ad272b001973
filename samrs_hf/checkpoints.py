"""Checks that a checkpoint (a Hub id or a local folder) can be loaded, before anything heavy runs.

``from_pretrained`` reports a missing local folder as an invalid repo id, a folder without
weights as a missing ``model.safetensors``, and, offline, retries the Hub for about 25 s
(huggingface_hub 2.4) before failing with tracebacks. These checks answer at once with one line
naming the flag and the fix:

* a local folder must exist and hold a ``config.json`` and weights (``*.safetensors`` or
  ``pytorch_model*.bin``);
* a Hub id is fine when what is needed is in the local Hugging Face cache (transformers then loads
  it even when the Hub is unreachable); otherwise the Hub is asked once, with a short timeout
  (offline mode, ``HF_HUB_OFFLINE=1``, skips the question).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import huggingface_hub
from huggingface_hub import HfApi, try_to_load_from_cache
from huggingface_hub.errors import HfHubHTTPError, HFValidationError
from huggingface_hub.utils import validate_repo_id

__all__ = [
    "ModelNotAvailableError",
    "check_checkpoint",
    "hub_reachable",
    "is_cached",
    "is_hub_id",
    "require_hub_files",
]

HUB_TIMEOUT_S = 3.0
"""How long the reachability probe waits for the Hub (it answers in well under a second when online)."""
WEIGHT_PATTERNS = ("*.safetensors", "pytorch_model*.bin")


class ModelNotAvailableError(OSError):
    """A checkpoint is neither a usable local folder nor cached or downloadable."""


def is_hub_id(value: str) -> bool:
    """Whether ``value`` reads as a Hub repo id ``ORG/NAME`` (not a path like ``./x``, ``/x`` or ``a/b/c``)."""
    if value.count("/") != 1 or value.startswith((".", "/", "~")):
        return False
    try:
        validate_repo_id(value)
    except HFValidationError:
        return False
    return True


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
    cache, or the Hub answers. Otherwise :class:`ModelNotAvailableError` "cannot load WHAT: offline and not
    cached; FIX", at once."""
    if all(is_cached(repo_id, names) for names in needs) or hub_reachable(repo_id):
        return
    reason = "offline" if huggingface_hub.is_offline_mode() else f"{huggingface_hub.constants.ENDPOINT} unreachable"
    raise ModelNotAvailableError(f"cannot load {what}: {reason} and not cached; {fix}")


def check_checkpoint(name: str | os.PathLike, flag: str = "--model", example: str = "", hint: str = "") -> str:
    """Return ``name`` (as a string) if it can be loaded; else raise one clear error naming ``flag``
    (``example``: a Hub id to suggest; ``hint``: a sentence on where to get a local folder)."""
    name = str(name)
    if not is_hub_id(name) or Path(name).expanduser().exists():
        _check_folder(Path(name).expanduser(), flag)
        return name
    online = f", or a Hub id such as {example} when online" if example else ""
    fix = f"pass {flag} PATH with a folder written by save_pretrained{online}{'. ' + hint if hint else ''}"
    require_hub_files(name, [("config.json",)], f"{flag} {name} (there is no local folder of that name)", fix)
    return name


def _check_folder(folder: Path, flag: str) -> None:
    if not folder.is_dir():
        raise FileNotFoundError(
            f"{flag} {folder}: no such folder; give a folder written by save_pretrained or a Hub id"
        )
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"{flag} {folder}: no config.json in this folder; is it a save_pretrained folder?")
    if not any(next(folder.glob(pattern), None) for pattern in WEIGHT_PATTERNS):
        raise FileNotFoundError(
            f"{flag} {folder}: no weights (*.safetensors or pytorch_model*.bin) in this folder; "
            "copy the whole save_pretrained output"
        )
