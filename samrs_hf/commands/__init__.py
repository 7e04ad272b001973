"""One module per ``samrs`` subcommand (see :mod:`samrs_hf.cli`), and the arguments they share."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_sam_arguments(
    parser: argparse.ArgumentParser, default_model: str, device_help: str = "cuda if available"
) -> None:
    """``--model --device --dtype --prompt-batch-size``: how a command loads and runs SAM."""
    parser.add_argument(
        "--model", default=default_model, help="SAM checkpoint: Hub id or local folder (default: %(default)s)"
    )
    parser.add_argument("--device", default=None, help=f"torch device (default: {device_help})")
    parser.add_argument("--dtype", default=None, help="model precision: fp32 (default), bf16 or fp16")
    parser.add_argument(
        "--prompt-batch-size", type=int, default=64,
        help="prompts decoded per SAM call (default: %(default)s, for GPUs; 1 to 4 is faster on a CPU)",
    )


def add_dataset_arguments(parser: argparse.ArgumentParser) -> None:
    """``DATASET_DIR --config C [--split S] --out PATH``: the arguments of commands that read a built subset."""
    from samrs_hf.subsets import SUBSETS

    parser.add_argument("dataset_dir", type=Path, help="a dataset folder written by `samrs build`")
    parser.add_argument("--config", required=True, choices=sorted(SUBSETS), help="subset to read")
    parser.add_argument("--split", default="train", help="dataset split (default: train)")
    parser.add_argument("--out", required=True, type=Path, help="output file or folder")


def load_split(args: argparse.Namespace):
    """The ``datasets.Dataset`` named by :func:`add_dataset_arguments`'s arguments."""
    from datasets import load_dataset

    return load_dataset(str(args.dataset_dir), args.config, split=args.split)
