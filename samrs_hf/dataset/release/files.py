"""Reading untrusted files: regular files only, of bounded size, never blocking; errors that name the
file and describe untrusted values briefly."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np


def describe(value: object, limit: int = 40) -> str:
    """A short description of an untrusted value for a message: never its whole repr."""
    if isinstance(value, (str, bytes, bytearray)):
        more = f"... ({len(value)} long)" if len(value) > limit else ""
        return repr(value[:limit]) + more
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"an integer of {value.bit_length()} bits"
    if value is None or isinstance(value, (bool, int, float, complex, np.generic)):
        return repr(value)
    if isinstance(value, np.ndarray):
        shown = f" {value.tolist()}" if value.size <= 8 else ""
        return f"an array{shown} of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, (list, tuple, dict, set, frozenset)):
        return f"a {type(value).__name__} of {len(value)} items"
    return f"a {type(value).__name__}"


def clip(text: str, limit: int = 160) -> str:
    """``text`` cut after ``limit`` characters (an error message that quotes untrusted input)."""
    return text if len(text) <= limit else f"{text[:limit]}..."


class ReleaseFileError(ValueError):
    """A release file that cannot be imported; ``reason`` is what ``--skip-bad`` counts it under."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def _file_kind(mode: int) -> str:
    kinds = {stat.S_ISDIR: "a folder", stat.S_ISFIFO: "a FIFO", stat.S_ISCHR: "a device", stat.S_ISBLK: "a device"}
    return next((kind for test, kind in kinds.items() if test(mode)), "a socket or other special file")


def check_regular_file(path: Path, info: os.stat_result, max_bytes: int) -> None:
    """Refuse ``path`` (of ``stat`` ``info``) unless it is a regular file of at most ``max_bytes``."""
    if not stat.S_ISREG(info.st_mode):
        raise ReleaseFileError("unsafe_file", f"{path}: {_file_kind(info.st_mode)}, not a regular file; not read")
    if info.st_size > max_bytes:
        raise ReleaseFileError(
            "too_large", f"{path}: {info.st_size} bytes, more than the {max_bytes} such a release file may have"
        )


def read_regular_file(path: Path, max_bytes: int) -> bytes:
    """The bytes of ``path``, a regular file of at most ``max_bytes`` (checked before it is opened, and
    again on the open file, which is opened non-blocking: a FIFO or device never blocks or streams)."""
    try:
        check_regular_file(path, os.stat(path), max_bytes)
        with open(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as file:
            check_regular_file(path, os.fstat(file.fileno()), max_bytes)
            data = file.read(max_bytes + 1)
    except OSError as error:
        raise ReleaseFileError("unreadable_file", f"{path}: cannot be read ({error.strerror})") from None
    if len(data) > max_bytes:
        raise ReleaseFileError("too_large", f"{path}: grew past {max_bytes} bytes while it was read")
    return data
