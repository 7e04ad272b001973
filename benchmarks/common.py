"""What the benchmark scripts share: peak memory of a block, and a description of the machine."""

from __future__ import annotations

import json
import platform
import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import psutil
import torch


class PeakMemory:
    """Peak resident memory (CPU, sampled every 5 ms) or peak allocated CUDA memory during a block, in MiB;
    ``start_mib``: the same at the block's start (what the process held before it)."""

    def __init__(self, device: torch.device):
        self.device, self.peak_mib, self.start_mib = device, 0.0, 0.0

    @contextmanager
    def measure(self):
        process, stop = psutil.Process(), threading.Event()
        peak = [process.memory_info().rss]

        def sample():
            while not stop.wait(0.005):
                peak[0] = max(peak[0], process.memory_info().rss)

        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
            self.start_mib = torch.cuda.memory_allocated(self.device) / 2**20
        else:
            self.start_mib = peak[0] / 2**20
        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join()
            if self.device.type == "cuda":
                self.peak_mib = torch.cuda.max_memory_allocated(self.device) / 2**20
            else:
                self.peak_mib = peak[0] / 2**20


def machine(device: torch.device) -> dict:
    """The machine a result was measured on, and when."""
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_cores": psutil.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": str(device),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
    }


def report(result: dict, path: str | None) -> dict:
    """Print ``result`` as JSON, write it to ``path`` when given; return it."""
    text = json.dumps(result, indent=2)
    if path:
        Path(path).write_text(text + "\n", encoding="utf-8")
    print(text)
    return result
