"""Checks that a checkpoint (a Hub id or a local folder) can be loaded, before anything heavy runs.

``from_pretrained`` reports a missing local folder as an invalid repo id, a folder without
weights as a missing ``model.safetensors``, and, offline, retries the Hub for half a minute before
failing. :func:`check_checkpoint` answers at once with one line naming the flag and the fix:

* a local folder must exist and hold a ``config.json`` and weights (``*.safetensors`` or
  ``pytorch_model*.bin``);
* a Hub id is fine when its ``config.json`` is in the local Hugging Face cache; otherwise the Hub
  is asked once, with a short timeout (offline mode, ``HF_HUB_OFFLINE=1``, skips the question).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from huggingface_hub import HfApi, constants, try_to_load_from_cache

__all__ = ["ModelNotAvailableError", "check_checkpoint", "looks_like_path"]

HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?")
HUB_TIMEOUT_S = 5.0
WEIGHT_PATTERNS = ("*.safetensors", "pytorch_model*.bin")


class ModelNotAvailableError(ValueError):
    """A checkpoint is neither a usable local folder nor cached or downloadable."""


def looks_like_path(name: str) -> bool:
    """Whether ``name`` can only be a local path: it exists, or it is not of a Hub id's form ``[ORG/]NAME``."""
    return Path(name).expanduser().exists() or HUB_ID.fullmatch(name) is None


def check_checkpoint(name: str | os.PathLike, flag: str = "--model", example: str = "", hint: str = "") -> str:
    """Return ``name`` (as a string) if it can be loaded; else raise one clear error naming ``flag``
    (``example``: a Hub id to suggest; ``hint``: a sentence on where to get a local folder)."""
    name = str(name)
    if looks_like_path(name):
        _check_folder(Path(name).expanduser(), flag)
        return name
    if try_to_load_from_cache(name, "config.json") is not None:
        return name
    reason = "offline (HF_HUB_OFFLINE is set) and not in the local Hugging Face cache"
    if not constants.HF_HUB_OFFLINE:
        try:
            HfApi().model_info(name, timeout=HUB_TIMEOUT_S)
            return name
        except Exception as error:  # any failure to reach or find it is reported the same way
            reason = f"the Hub cannot be reached or has no such model ({type(error).__name__})"
    online = f", or a Hub id such as {example} when online" if example else ""
    raise ModelNotAvailableError(
        f"cannot load {flag} {name}: there is no local folder of that name, and {reason}; pass {flag} PATH with "
        f"a folder written by save_pretrained{online}{'. ' + hint if hint else ''}"
    )


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
