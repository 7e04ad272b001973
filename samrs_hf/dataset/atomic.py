"""Files that readers depend on are replaced whole: the old version or the new one, never part of one."""

from __future__ import annotations

import os
from contextlib import suppress
from pathlib import Path

__all__ = ["write_atomic"]


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Replace ``path`` with ``data`` (text as UTF-8) in one step: written to a temporary file beside it,
    flushed to the disk, renamed over ``path``, and the rename synced. A full disk or a crash before the
    rename leaves the previous file as it was."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as file:
            file.write(data.encode("utf-8") if isinstance(data, str) else data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    with suppress(OSError):  # make the rename durable where a folder can be opened and synced
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
    return path
