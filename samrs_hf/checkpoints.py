"""Checks that a checkpoint (a Hub id or a local folder) can be loaded, before anything heavy runs.

``from_pretrained`` reports a missing local folder as an invalid repo id, a folder without
weights as a missing ``model.safetensors``, and, offline, retries the Hub for tens of seconds
before failing with tracebacks. These checks answer at once with one line
naming the flag and the fix:

* a local folder must exist and hold a ``config.json`` and weights (``*.safetensors`` or
  ``pytorch_model*.bin``);
* a Hub id is fine when what is needed is in the local Hugging Face cache (transformers then loads
  it even when the Hub is unreachable); otherwise the Hub is asked once, with a short timeout
  (offline mode, ``HF_HUB_OFFLINE=1``, skips the question).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import huggingface_hub
from huggingface_hub import HfApi, try_to_load_from_cache
from huggingface_hub.errors import HfHubHTTPError, HFValidationError, HTTPError, LocalTokenNotFoundError
from huggingface_hub.utils import validate_repo_id

__all__ = [
    "HubAccessError",
    "ModelNotAvailableError",
    "cache_only",
    "check_checkpoint",
    "check_hub_upload",
    "hub_reachable",
    "is_cached",
    "is_hub_id",
    "on_hub",
    "public_name",
    "require_hub_files",
    "upload_failure_line",
]

HUB_TIMEOUT_S = 3.0
"""How long the reachability probe waits for the Hub (it answers in well under a second when online)."""
WEIGHT_PATTERNS = ("*.safetensors", "pytorch_model*.bin")


class ModelNotAvailableError(OSError):
    """A checkpoint is neither a usable local folder nor cached or downloadable."""


class HubAccessError(OSError):
    """An upload to the Hub cannot happen: offline, unreachable, not logged in, or no right to write."""


def is_hub_id(value: str) -> bool:
    """Whether ``value`` reads as a Hub repo id ``ORG/NAME`` (not a path like ``./x``, ``/x`` or ``a/b/c``)."""
    if value.count("/") != 1 or value.startswith((".", "/", "~")):
        return False
    try:
        validate_repo_id(value)
    except HFValidationError:
        return False
    return True


def on_hub(name: str | os.PathLike) -> bool:
    """Whether ``name`` stands for a Hub repo: it reads as ``ORG/NAME`` and is no local path."""
    return is_hub_id(str(name)) and not Path(name).expanduser().exists()


def public_name(name: str | os.PathLike) -> str:
    """How a card names a model or dataset: a Hub id as it is, a local folder by its name only, so that no
    path of this machine leaves it."""
    return str(name) if on_hub(name) else f"{Path(name).expanduser().resolve().name} (a local folder)"


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


def cache_only(name: str | os.PathLike) -> bool:
    """Whether ``name`` must load from the local cache alone: a Hub repo while the Hub does not answer.

    Pass it as ``from_pretrained(..., local_files_only=cache_only(name))``: otherwise, with peft installed,
    transformers asks the Hub for an optional adapter config and retries for tens of seconds before it goes on.
    """
    return on_hub(name) and not hub_reachable(str(name))


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
    if not on_hub(name):
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


def check_hub_upload(repo_id: str, flag: str, token: str | None = None) -> None:
    """Make sure ``repo_id`` can be uploaded to, before any work: the Hub answers, a token is there, the Hub
    accepts it, and it may write to the repo's namespace. Otherwise one :class:`HubAccessError` line
    naming ``flag`` and the fix."""
    what = f"{flag} {repo_id}"
    if not is_hub_id(repo_id):
        raise ValueError(f"{what}: not a Hub repo id; give one with its namespace, ORG/NAME")
    if huggingface_hub.is_offline_mode():
        raise HubAccessError(f"{what}: cannot upload in offline mode; unset HF_HUB_OFFLINE")
    if not hub_reachable(repo_id):
        raise HubAccessError(
            f"{what}: {huggingface_hub.constants.ENDPOINT} is unreachable; check the network (or HF_ENDPOINT)"
        )
    try:
        me = HfApi(token=token).whoami()
    except LocalTokenNotFoundError:
        raise HubAccessError(f"{what}: not logged in to the Hub; run `hf auth login` or set HF_TOKEN") from None
    except HfHubHTTPError as error:
        status = error.response.status_code if error.response is not None else "no answer"
        raise HubAccessError(
            f"{what}: the Hub refused the token (HTTP {status}); run `hf auth login` with a valid token"
        ) from None
    namespace = repo_id.split("/")[0]
    if not _may_write(me, namespace):
        raise HubAccessError(
            f"{what}: the token of {me.get('name')} may not write to {namespace!r}; use a write token "
            f"(`hf auth login`) of a member of {namespace!r}, or another namespace"
        )


def _may_write(me: dict, namespace: str) -> bool:
    """Whether ``whoami``'s answer ``me`` allows creating and writing repos under ``namespace``."""
    roles = {org.get("name"): org.get("roleInOrg") for org in me.get("orgs") or []}
    if namespace != me.get("name") and roles.get(namespace, "read") == "read":
        return False
    token = (me.get("auth") or {}).get("accessToken") or {}
    if token.get("role") == "read":
        return False
    if token.get("role") == "fineGrained":
        scoped = (token.get("fineGrained") or {}).get("scoped") or []
        return any(
            entry.get("entity", {}).get("name") == namespace and "repo.write" in entry.get("permissions", [])
            for entry in scoped
        )
    return True


@contextmanager
def upload_failure_line(folder: str | os.PathLike, repo_id: str, retry: str) -> Iterator[None]:
    """Turn an upload's failure (network, Hub or file error) into one :class:`HubAccessError` line saying
    that ``folder`` is complete here, and how to ``retry``."""
    try:
        yield
    except (OSError, HTTPError) as error:
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        message = f"uploading {folder} to {repo_id} failed ({reason}); {folder} is complete: {retry}"
        raise HubAccessError(message) from None
