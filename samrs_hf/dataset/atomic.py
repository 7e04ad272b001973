"""Files that readers depend on (a card, settings, shards) are replaced whole: the old version or the new, never part.

Each is written to a temporary file in its own folder, flushed to the disk, renamed over its name,
and the rename is synced too, so a full disk, a crash or a power cut leaves the previous file.
:func:`read_json_object` reads back the small JSON files written so, trusting nothing in them.
"""

from __future__ import annotations

import json
import os
import secrets
from contextlib import suppress
from pathlib import Path

__all__ = ["commit_file", "read_json_object", "sync_folder", "write_atomic"]


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Replace ``path`` with ``data`` (text is written as UTF-8) in one step; returns ``path``.

    The temporary file is hidden (``.NAME.RANDOM.tmp``) and removed again when the write fails.
    """
    path = Path(path)
    data = data.encode("utf-8") if isinstance(data, str) else data
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(temporary, "xb") as file:  # its mode follows the umask, as any file written with open()
            file.write(data)
        return commit_file(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def commit_file(temporary: str | Path, path: str | Path) -> Path:
    """Rename the finished file ``temporary`` over ``path`` once its bytes are on the disk; returns ``path``."""
    descriptor = os.open(temporary, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    os.replace(temporary, path)
    sync_folder(Path(path).parent)
    return Path(path)


def sync_folder(folder: str | Path) -> None:
    """Make the renames in ``folder`` last (where the system lets a folder be opened and synced)."""
    with suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def read_json_object(path: Path, max_bytes: int) -> dict:
    """The JSON object in ``path``, a small file samrs wrote. ``ValueError`` giving the reason (not the path, which
    the caller names with the way out) when it is larger than ``max_bytes``, not UTF-8 JSON, nested too deep for
    the parser, or not an object."""
    size = path.stat().st_size
    if size > max_bytes:
        raise ValueError(f"{size} bytes")
    try:
        value = json.loads(path.read_bytes())  # UnicodeDecodeError and JSONDecodeError are ValueErrors
    except RecursionError as error:
        raise ValueError(str(error)) from None
    if not isinstance(value, dict):
        raise ValueError(f"a JSON {type(value).__name__}, not an object")
    return value
