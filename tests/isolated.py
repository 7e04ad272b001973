"""Run ``samrs`` on hostile input in a child process with a memory cap and a time limit.

A crafted file must end a command with exit status 0 or 1: no signal (SIGSEGV, SIGBUS, the OOM
killer), no hang, no traceback, nothing executed. Running each case in its own process under
``RLIMIT_AS`` turns "takes all memory" into a failed allocation the test can see, and the timeout
turns "hangs" into a failure instead of a stuck suite.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

MEMORY_LIMIT_MB = 3072
"""Address space of a child: room for torch, transformers, datasets and a tiny SAM build or a small import."""
CHILD_ENV = {"TQDM_DISABLE": "1", "PYTHONFAULTHANDLER": "1", "MALLOC_ARENA_MAX": "2", "OMP_NUM_THREADS": "1"}
"""No progress bars; a fatal signal prints a stack; and an address space that does not grow with the machine's
cores (glibc reserves an arena of address space per thread, torch starts a thread per core)."""
TIME_LIMIT_S = 120


def _limits(memory_mb: int, file_size_mb: float | None):
    def apply() -> None:
        os.setsid()  # its own process group, so a timeout kills its workers too
        limit = memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        if file_size_mb is not None:  # writing past it is an OSError (EFBIG): Python ignores SIGXFSZ
            size = int(file_size_mb * 2**20)
            resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

    return apply


def start_samrs(
    *args: str | Path,
    memory_mb: int = MEMORY_LIMIT_MB,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    file_size_mb: float | None = None,
) -> subprocess.Popen:
    """Start ``python -m samrs_hf.cli ARGS`` in its own process group, limited to ``memory_mb`` of address
    space (and, with ``file_size_mb``, to files of that size: a disk that fills up)."""
    command = [sys.executable, "-m", "samrs_hf.cli", *map(str, args)]
    child_env = {**os.environ, **CHILD_ENV, **(env or {})}
    return subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env=child_env,
        preexec_fn=_limits(memory_mb, file_size_mb),
    )


def run_samrs(
    *args: str | Path,
    memory_mb: int = MEMORY_LIMIT_MB,
    timeout: float = TIME_LIMIT_S,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    file_size_mb: float | None = None,
) -> subprocess.CompletedProcess:
    """``python -m samrs_hf.cli ARGS`` in a child limited to ``memory_mb`` of address space and ``timeout`` s
    (see :func:`start_samrs`).

    A child still running at the timeout is killed with its process group and the test fails.
    """
    process = start_samrs(*args, memory_mb=memory_mb, cwd=cwd, env=env, file_size_mb=file_size_mb)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise AssertionError(f"samrs {' '.join(map(str, args))} still ran after {timeout} s (killed)") from None
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def assert_one_line_error(result: subprocess.CompletedProcess, *needles: str) -> str:
    """The command failed as a user error: exit 1, no traceback, and its last stderr line, the error,
    holds every needle. Returns that line."""
    assert result.returncode == 1, f"exit {result.returncode} (negative: killed by a signal)\n{result.stderr[-3000:]}"
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    line = result.stderr.strip().splitlines()[-1]
    assert ": error: " in line, result.stderr[-3000:]
    for needle in needles:
        assert needle in line, f"{needle!r} not in {line!r}"
    return line


def assert_clean_exit(result: subprocess.CompletedProcess) -> None:
    """The command ended with status 0 or 1 (no signal, no bug report) and printed no traceback."""
    status = result.returncode
    assert status in (0, 1), f"exit {status} (negative: killed by a signal)\n{result.stderr[-3000:]}"
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
