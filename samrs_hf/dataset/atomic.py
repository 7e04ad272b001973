"""Files that readers depend on (a card, settings, shards) are replaced whole: the old version or the new, never part.

Each is written to a temporary file in its own folder, flushed to the disk, renamed over its name,
and the rename is synced too, so a full disk, a crash or a power cut leaves the previous file.
"""

from __future__ import annotations

import os
import secrets
from contextlib import suppress
from pathlib import Path

__all__ = ["commit_file", "sync_folder", "write_atomic"]


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
