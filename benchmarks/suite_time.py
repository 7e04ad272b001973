"""Wall and CPU time of the README's test command, ``python -m pytest -q``, run from the repository root
(other arguments are passed on to pytest)::

    python benchmarks/suite_time.py --json benchmarks/results_suite_cpu.json

CPU seconds (user + system of pytest and its children) are what other processes on a shared machine do not
inflate; the load average says how shared it was.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import torch
from common import children_cpu_seconds, machine, report

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, default=None, help="write the result here")
    args, pytest_args = parser.parse_known_args(argv)  # the rest is pytest's (default: -q)
    pytest_args = pytest_args or ["-q"]
    cpu, load_before, start = children_cpu_seconds(), os.getloadavg()[0], time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "pytest", *pytest_args], cwd=ROOT, capture_output=True, text=True)
    seconds, cpu = time.perf_counter() - start, children_cpu_seconds() - cpu
    print(run.stdout[-20_000:], run.stderr[-5_000:], sep="\n")  # failures and --durations, if asked for
    result = {
        "machine": machine(torch.device("cpu")),
        "command": " ".join(["python -m pytest", *pytest_args]),
        "exit_status": run.returncode,
        "summary": run.stdout.strip().splitlines()[-1] if run.stdout.strip() else "",
        "wall_minutes": round(seconds / 60, 1),
        "cpu_minutes": round(cpu / 60, 1),
        "load_average_1min": [round(load_before, 1), round(os.getloadavg()[0], 1)],
    }
    return report(result, args.json)


if __name__ == "__main__":
    main()
