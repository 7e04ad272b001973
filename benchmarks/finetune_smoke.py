"""Wall time of the README's fine-tuning smoke test: ``samrs finetune`` with :data:`SMOKE_FLAGS`, in a fresh
process (imports included), as a new user runs it to check that their dataset folder is read: wall seconds, and
the child's CPU seconds (which other processes on a shared machine do not inflate).

``--init`` is the paper's default architecture (ResNet-50 + UperNet, 512 decoder channels) with random weights,
saved as ``samrs pretrain`` saves it: a trained model of that architecture costs the same. ``--root`` defaults to
the fixtures' Potsdam sample (mmsegmentation layout, 512x512 crops)::

    python benchmarks/finetune_smoke.py --json benchmarks/results_finetune_smoke_cpu.json
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from common import children_cpu_seconds, machine, report

from samrs_hf.training import build_sep_model
from samrs_hf.training.publish import save_model

SMOKE_FLAGS = [
    "--train-fraction", "0.01", "--max-steps", "3", "--batch-size", "2", "--crop-size", "128",
    "--eval-steps", "3", "--eval-limit", "4", "--checkpointing-steps", "0", "--num-workers", "0",
]  # fmt: skip
"""What the README's smoke test adds to ``samrs finetune --dataset D --root R --init M``."""
FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "potsdam"


def smoke_command(dataset: str, root: str, init: str, output_dir: str) -> list[str]:
    """The smoke test's ``samrs finetune`` arguments."""
    return ["finetune", "--dataset", dataset, "--root", root, "--init", init, "--output-dir", output_dir, *SMOKE_FLAGS]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=str(FIXTURES), help="Potsdam folder (default: the fixtures' sample)")
    parser.add_argument("--backbone", default="resnet-50", help="backbone of the --init model (default: resnet-50)")
    parser.add_argument("--decoder-channels", type=int, default=512, help="UperNet width (default: 512)")
    parser.add_argument("--json", type=Path, default=None, help="write the result here")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as work:
        init, out = Path(work) / "sep", Path(work) / "finetune-smoke"
        model = build_sep_model(args.backbone, "upernet", {"sota": ["a", "b"]}, False, args.decoder_channels)
        save_model(model, init, crop_size=224)
        command = smoke_command("potsdam", args.root, str(init), str(out))
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1"}
        cpu_before, start = children_cpu_seconds(), time.perf_counter()
        subprocess.run([sys.executable, "-m", "samrs_hf.cli", *command], check=True, env=env, capture_output=True)
        seconds, cpu_seconds = time.perf_counter() - start, children_cpu_seconds() - cpu_before
    result = {
        "machine": machine(torch.device("cpu")),
        "command": " ".join(["samrs", *smoke_command("potsdam", "ROOT", "SEP_MODEL", "finetune-smoke")]),
        "init": f"{args.backbone} + UperNet ({args.decoder_channels} channels), random weights",
        "root": args.root if args.root != str(FIXTURES) else "fixtures/potsdam (mmsegmentation layout, 512x512)",
        "wall_seconds": round(seconds, 1),
        "cpu_seconds": round(cpu_seconds, 1),
        "load_average_1min_after": round(os.getloadavg()[0], 1),
    }
    return report(result, args.json)


if __name__ == "__main__":
    main()
