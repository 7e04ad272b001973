"""Arguments several ``samrs`` commands share, and the objects they turn into."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from samrs_hf.dataset.subsets import SUBSETS

if TYPE_CHECKING:
    from datasets import Dataset

    from samrs_hf.labeling.labeler import SamLabeler


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
        "--prompt-batch-size",
        type=int,
        default=64,
        help="prompts decoded per SAM call (default: %(default)s, for GPUs; 1 to 4 is faster on a CPU)",
    )


def make_labeler(args: argparse.Namespace) -> SamLabeler:
    """The :class:`~samrs_hf.labeling.labeler.SamLabeler` of :func:`add_sam_arguments`' arguments."""
    from samrs_hf.labeling.labeler import SamLabeler

    return SamLabeler(args.model, device=args.device, dtype=args.dtype, prompt_batch_size=args.prompt_batch_size)


def add_dataset_arguments(parser: argparse.ArgumentParser, out_help: str = "output folder") -> None:
    """``DATASET_DIR --config C [--split S] --out PATH``: the arguments of commands that read a built subset."""
    parser.add_argument("dataset_dir", type=Path, help="a dataset folder written by `samrs build`")
    parser.add_argument("--config", required=True, choices=sorted(SUBSETS), help="subset to read")
    parser.add_argument("--split", default="train", help="dataset split (default: train)")
    parser.add_argument("--out", required=True, type=Path, help=out_help)


def check_split(args: argparse.Namespace) -> None:
    """Check that ``args.dataset_dir`` holds a finished ``args.config`` with ``args.split`` (any split when
    ``None``), from its card."""
    folder, config, split = args.dataset_dir, args.config, args.split
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder; give a dataset folder written by `samrs build`")
    card = folder / "README.md"
    configs = {}
    if card.is_file():
        from huggingface_hub import DatasetCard

        configs = {c["config_name"]: c for c in DatasetCard.load(card).data.to_dict().get("configs") or []}
    if config not in configs:
        have = f"it has {', '.join(sorted(configs))}" if configs else "it has none"
        raise FileNotFoundError(
            f"{folder} holds no finished {config} subset ({have}); "
            f"build it with `samrs build {config} --root RAW --out {folder}`"
        )
    splits = [entry["split"] for entry in configs[config].get("data_files") or [] if isinstance(entry, dict)]
    if splits and split is not None and split not in splits:
        raise ValueError(f"{folder}: {config} has no split {split!r}; pass --split {' or --split '.join(splits)}")


def load_split(args: argparse.Namespace) -> Dataset:
    """The ``datasets.Dataset`` named by :func:`add_dataset_arguments`' arguments (checked first)."""
    check_split(args)
    from datasets import load_dataset

    return load_dataset(str(args.dataset_dir), args.config, split=args.split)
