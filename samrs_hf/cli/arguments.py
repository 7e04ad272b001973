"""Arguments several ``samrs`` commands share, and the objects they turn into."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from samrs_hf.dataset.subsets import RECIPES, SUBSETS, SubsetRecipe
from samrs_hf.records import DEFAULT_MAX_IMAGE_PIXELS, LIMIT_FLAG, set_max_image_pixels

if TYPE_CHECKING:
    from datasets import Dataset

    from samrs_hf.labeling.labeler import Decoding, SamLabeler


def add_subset_argument(parser: argparse.ArgumentParser, recipes: dict[str, SubsetRecipe] = SUBSETS) -> None:
    """The positional ``subset`` (one of ``recipes``); a source dataset's name says which subset reads it."""
    parser.add_argument("subset", type=subset_name, choices=sorted(recipes), help="subset to make")


def subset_name(value: str) -> str:
    """``value`` when it names a SAMRS subset; else an ``ArgumentTypeError`` that points from a source dataset
    (DOTA, DIOR, FAIR1M, HRSC2016) to what reads it."""
    if value in RECIPES:
        return value
    readers = {recipe.source[:4]: name for name, recipe in SUBSETS.items()}
    prefix = value.lower()[:4]
    if prefix in readers:
        raise argparse.ArgumentTypeError(
            f"{value!r} is a source dataset: the {readers[prefix]!r} subset is made from it; give {readers[prefix]}"
        )
    if prefix == "hrsc":
        raise argparse.ArgumentTypeError(
            f"{value!r} is no SAMRS subset: HRSC2016 serves the prompt ablation (samrs ablate --root HRSC2016)"
        )
    raise argparse.ArgumentTypeError(f"invalid choice: {value!r} (choose from {', '.join(sorted(SUBSETS))})")


class RegistryChoices:
    """argparse ``choices`` that are the keys of a registry (``MODULE.NAME``), imported the first time argparse
    looks at them (a value to check, ``--help``, an error), so that starting the CLI imports no heavy module.
    Give the argument a ``metavar``: argparse formats the choices of one without it when it is added."""

    def __init__(self, module: str, name: str):
        self.module, self.name = module, name

    def __iter__(self) -> Iterator[str]:
        return iter(getattr(importlib.import_module(self.module), self.name))

    def __contains__(self, value: object) -> bool:
        return value in getattr(importlib.import_module(self.module), self.name)


SAM_FAMILIES = RegistryChoices("samrs_hf.labeling.backends", "BACKENDS")
"""The ``model_type`` of each SAM family samrs-hf labels with."""


def add_sam_arguments(
    parser: argparse.ArgumentParser,
    default_model: str,
    device_help: str = "cuda if available",
    decoding: bool = True,
    several_models: bool = False,
) -> None:
    """``--model --device --dtype --prompt-batch-size --compile [BACKEND]`` (and with ``decoding`` the mask-quality
    options ``--multimask --refine --clip-rbox``): how a command loads and runs SAM. With ``several_models``
    ``--model`` may be repeated (a list, ``None`` when not given)."""
    what = "checkpoint of a SAM family (SAM, SAM-HQ, SAM 2, ...; `samrs tiny-sam --help` lists them): Hub id or folder"
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
        help="prompts decoded per model call (default: 1 on a CPU, 64 on a GPU)",
    )
    parser.add_argument(
        "--compile",
        nargs="?",
        const="inductor",
        default=False,
        metavar="BACKEND",
        help="torch.compile the image encoder and mask decoder (BACKEND: inductor when not given)",
    )
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
    """The :class:`~samrs_hf.labeling.labeler.Decoding` of :func:`add_sam_arguments`' options (it checks them)."""
    from samrs_hf.labeling.labeler import Decoding

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
    parser.add_argument(
        "--rows-per-shard",
        type=int,
        default=256,
        help="tiles per Parquet shard, the resume granularity (default: %(default)s)",
    )
    parser.add_argument("--skip-bad", action="store_true", help=f"skip and report {skip_help} instead of failing")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="delete this subset's shards in --out and start over (other subsets in --out are kept)",
    )
    parser.set_defaults(on_interrupt="interrupted: rerun the same command to resume (committed tiles are kept)")


def _pixel_count(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of pixels (e.g. 2000000000)")
    return int(text)


def add_image_limit_argument(parser: argparse.ArgumentParser) -> None:
    """``--max-image-pixels N``: the largest source image a command reads (:func:`apply_image_limit`)."""
    parser.add_argument(
        LIMIT_FLAG,
        type=_pixel_count,
        default=DEFAULT_MAX_IMAGE_PIXELS,
        metavar="N",
        help="refuse source images of more than N pixels, from their header, before decoding them "
        "(default: %(default)s = 2^30, above DOTA-v2.0's 20000x20000 scenes)",
    )


def apply_image_limit(args: argparse.Namespace) -> None:
    """Read images under ``--max-image-pixels`` for the rest of the process, set once before any thread reads:
    samrs-hf's limit and Pillow's own (which Pillow applies again when it decodes a TIFF)."""
    from PIL import Image

    set_max_image_pixels(args.max_image_pixels)
    Image.MAX_IMAGE_PIXELS = args.max_image_pixels


def add_dataset_arguments(parser: argparse.ArgumentParser, out_help: str = "output folder") -> None:
    """``DATASET_DIR --config C [--split S] --out PATH [--overwrite]``: the arguments of commands that read a
    built subset and write files (see :func:`refuse_existing`)."""
    parser.add_argument("dataset_dir", type=Path, help="a dataset folder written by `samrs build`")
    parser.add_argument("--config", required=True, choices=sorted(RECIPES), help="subset to read")
    parser.add_argument("--split", default="train", help="dataset split (default: train)")
    parser.add_argument("--out", required=True, type=Path, help=out_help)
    add_overwrite_argument(parser)


def add_overwrite_argument(parser: argparse.ArgumentParser) -> None:
    """``--overwrite``: replace output files that exist (without it they are refused before any work)."""
    parser.add_argument("--overwrite", action="store_true", help="replace output files that exist")


def refuse_existing(paths: list[Path], overwrite: bool) -> None:
    """The one rule for commands' outputs, checked before the work: files that exist are replaced only with
    ``--overwrite``; a file where a folder is needed is refused."""
    for path in paths:
        for parent in path.parents:
            if parent.exists() and not parent.is_dir():
                raise NotADirectoryError(f"--out: {parent} is a file, not a folder; choose another --out")
    existing = [str(path) for path in paths if path.exists()]
    if existing and not overwrite:
        raise FileExistsError(f"{', '.join(existing)} already there; pass --overwrite, or choose another --out")


def check_split(args: argparse.Namespace) -> None:
    """Check that ``args.dataset_dir`` holds a finished ``args.config`` with ``args.split`` (any split when
    ``None``) whose shards agree with its card."""
    from samrs_hf.dataset.folder import check_subset

    check_subset(args.dataset_dir, args.config, args.split)


def load_split(args: argparse.Namespace) -> Dataset:
    """The ``datasets.Dataset`` named by :func:`add_dataset_arguments`' arguments (checked first)."""
    from samrs_hf.dataset.folder import load_subset

    return load_subset(args.dataset_dir, args.config, args.split)
