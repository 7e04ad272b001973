"""Arguments several ``samrs`` commands share, and the objects they turn into."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from samrs_hf.dataset.subsets import RECIPES

if TYPE_CHECKING:
    from datasets import Dataset

    from samrs_hf.labeling.labeler import Decoding, SamLabeler


def add_sam_arguments(
    parser: argparse.ArgumentParser,
    default_model: str,
    device_help: str = "cuda if available",
    decoding: bool = True,
    several_models: bool = False,
) -> None:
    """``--model --device --dtype --prompt-batch-size --compile`` (and with ``decoding`` the mask-quality
    options ``--multimask --refine --clip-rbox``): how a command loads and runs SAM. With ``several_models``
    ``--model`` may be repeated (a list, ``None`` when not given)."""
    what = "SAM, SAM-HQ or SAM 2 checkpoint: Hub id or local folder"
    if several_models:
        parser.add_argument("--model", action="append", help=f"{what}; repeat for several (default: {default_model})")
    else:
        parser.add_argument("--model", default=default_model, help=f"{what} (default: %(default)s)")
    parser.add_argument("--device", default=None, help=f"torch device (default: {device_help})")
    parser.add_argument("--dtype", default=None, help="model precision: fp32 (default, the paper's), bf16 or fp16")
    parser.add_argument(
        "--prompt-batch-size",
        type=int,
        default=None,
        help="prompts decoded per model call (default: 4 on a CPU, 64 on a GPU)",
    )
    parser.add_argument("--compile", action="store_true", help="torch.compile the image encoder and mask decoder")
    if decoding:
        parser.add_argument(
            "--multimask",
            choices=("single", "best"),
            default="single",
            help="'best': decode SAM's three masks and keep the highest predicted IoU (default: single, the paper's)",
        )
        parser.add_argument(
            "--refine", type=int, default=0, metavar="K", help="K more decoder passes fed their own logits"
        )
        parser.add_argument(
            "--clip-rbox",
            type=float,
            nargs="?",
            const=2.0,
            default=None,
            metavar="MARGIN",
            help="intersect each mask with its rotated box grown by MARGIN pixels (default 2 when given)",
        )


def decoding_of(args: argparse.Namespace) -> Decoding:
    """The :class:`~samrs_hf.labeling.labeler.Decoding` of :func:`add_sam_arguments`' options."""
    from samrs_hf.labeling.labeler import Decoding

    if getattr(args, "refine", 0) < 0:
        raise ValueError(f"--refine must be 0 or more, got {args.refine}")
    return Decoding(
        getattr(args, "multimask", "single") == "best", getattr(args, "refine", 0), getattr(args, "clip_rbox", None)
    )


def make_labeler(args: argparse.Namespace) -> SamLabeler:
    """The :class:`~samrs_hf.labeling.labeler.SamLabeler` of :func:`add_sam_arguments`' arguments."""
    from samrs_hf.labeling.labeler import SamLabeler

    return SamLabeler(
        args.model,
        device=args.device,
        dtype=args.dtype,
        prompt_batch_size=args.prompt_batch_size,
        decoding=decoding_of(args),
        compile=args.compile,
    )


def add_writer_arguments(parser: argparse.ArgumentParser, skip_help: str) -> None:
    """``--rows-per-shard --skip-bad --overwrite``: how a command writes a subset into a SAMRS folder
    (``skip_help``: what ``--skip-bad`` skips); Ctrl-C then says how to resume."""
    parser.add_argument("--rows-per-shard", type=int, default=256, help="tiles per Parquet shard (resume granularity)")
    parser.add_argument("--skip-bad", action="store_true", help=f"skip and report {skip_help} instead of failing")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="delete this subset's shards in --out and start over (other subsets in --out are kept)",
    )
    parser.set_defaults(on_interrupt="interrupted: rerun the same command to resume (committed tiles are kept)")


def add_dataset_arguments(parser: argparse.ArgumentParser, out_help: str = "output folder") -> None:
    """``DATASET_DIR --config C [--split S] --out PATH``: the arguments of commands that read a built subset."""
    parser.add_argument("dataset_dir", type=Path, help="a dataset folder written by `samrs build`")
    parser.add_argument("--config", required=True, choices=sorted(RECIPES), help="subset to read")
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
