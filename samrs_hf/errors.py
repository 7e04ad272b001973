"""Errors that damaged files cause; the ``samrs`` command reports them in one line (an ``OSError``)."""

from __future__ import annotations

__all__ = ["DamagedFileError", "summary"]


class DamagedFileError(OSError):
    """A file samrs wrote (a Parquet shard, a card, a training cache) that no longer reads as written: cut
    short, altered or edited. The message names the file and how to get a good one back."""


def summary(error: BaseException, limit: int = 200) -> str:
    """The first line of ``error``'s message, at most ``limit`` characters: a library's error quoted in ours."""
    lines = str(error).strip().splitlines() or [type(error).__name__]
    return lines[0][:limit]
