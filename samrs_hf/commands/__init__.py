"""One module per ``samrs`` subcommand (see :mod:`samrs_hf.cli`), and the arguments they share."""

from __future__ import annotations

import argparse
from pathlib import Path


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
