"""One run at a time per folder: an exclusive lock that the kernel releases when its process dies.

The lock is ``flock`` on ``FOLDER/.lock`` (``filelock``'s :class:`~filelock.UnixFileLock`; the file
stays after release). The run that holds it records who it is in ``FOLDER/.lock.json`` (PID, host,
command line, start time), written atomically, so that a refused run can name the one it met. The
info file of a run that was killed stays behind and means nothing: only the ``flock`` says whether
the folder is in use, so a dead run never blocks the next one.
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from filelock import Timeout, UnixFileLock

from samrs_hf.dataset.atomic import write_atomic

__all__ = ["LOCK", "LOCK_INFO", "FolderInUseError", "folder_lock"]

LOCK, LOCK_INFO = ".lock", ".lock.json"
INFO_BYTES = 64 * 2**10
"""Most bytes of an info file read back (it is a few hundred; anything longer is not ours)."""
INFO_WAIT_S = 1.0
"""How long a refused run waits for the holder to record itself (it does so right after taking the lock)."""


class FolderInUseError(BlockingIOError):
    """Another run holds the folder's lock; the message names it."""


@contextmanager
def folder_lock(folder: str | Path) -> Iterator[Path]:
    """Hold ``folder``'s lock for the block (the folder is created); yields the folder.

    Raises :class:`FolderInUseError` at once, naming the other run, when another process holds it.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lock = UnixFileLock(folder / LOCK, blocking=False, fallback_to_soft=False)
    try:
        lock.acquire()
    except Timeout:
        raise FolderInUseError(
            f"{folder} is in use by another run ({_holder(folder / LOCK_INFO)}); "
            "wait for it to end or stop it (a run that died leaves no lock)"
        ) from None
    try:
        write_atomic(folder / LOCK_INFO, json.dumps(_this_run()))
        yield folder
    finally:
        (folder / LOCK_INFO).unlink(missing_ok=True)  # while still held: the next holder's info is never removed
        lock.release()


def _this_run() -> dict:
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": shlex.join(sys.argv),
        "started": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
    }


def _holder(info_path: Path) -> str:
    """Who holds the lock, from its info file; the holder may still be writing it, so look for a while."""
    deadline = time.monotonic() + INFO_WAIT_S
    while (recorded := _recorded_run(info_path)) is None:
        if time.monotonic() > deadline:
            return "it has not recorded its PID"
        time.sleep(0.05)
    return recorded


def _recorded_run(path: Path) -> str | None:
    """The run an info file names, or ``None`` when it is missing, not ours, or left by a dead process of this host."""
    try:
        with path.open("rb") as file:
            info = json.loads(file.read(INFO_BYTES))
        pid, host, command, started = (info[key] for key in ("pid", "host", "command", "started"))
    except (OSError, ValueError, TypeError, KeyError, RecursionError):
        return None
    if not isinstance(pid, int) or not all(isinstance(text, str) for text in (host, command, started)):
        return None
    if host == socket.gethostname() and not _alive(pid):
        return None
    return f"PID {pid} on {_printable(host, 100)}, started {_printable(started, 40)}: {_printable(command, 500)}"


def _printable(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with line breaks and other control characters shown as ``?``."""
    return "".join(c if c.isprintable() else "?" for c in text[:limit])


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:  # another user's process
        return True
    return True
