"""What ``samrs build`` takes, checked and put in canonical form before any file is read or model loaded.

:meth:`BuildOptions.checked` is the one place a build's options are checked: the subset, the raw input's
kind (folder or COCO file), counts, the device and dtype, the prompt (parsed, and refused when the subset's
source gives no rotated box for a prompt that needs one), the decoding options and the model (a folder with
weights, or a Hub id cached or reachable). Its result holds each setting in one spelling (``"HBOX"`` and
``"hbox"`` are one prompt, ``"bf16"`` and ``"bfloat16"`` one dtype), which is what a resume compares.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import torch

from samrs_hf.checkpoints import check_checkpoint
from samrs_hf.dataset.subsets import SubsetRecipe, get_subset
from samrs_hf.labeling.labeler import Decoding, resolve_dtype
from samrs_hf.labeling.prompts import PromptSpec
from samrs_hf.sources import get_source

__all__ = ["BuildOptions"]

EXAMPLE_MODEL = "facebook/sam-vit-huge"


@dataclass
class BuildOptions:
    """What ``samrs build`` takes; ``None`` means the subset's paper setting (see :mod:`samrs_hf.dataset.subsets`)."""

    subset: str
    root: Path
    out: Path
    model: str = EXAMPLE_MODEL
    splits: tuple[str, ...] | None = None  # source splits; "all" = the whole root (flat layout)
    limit: int | None = None  # first N images of each split
    prompt: str | None = None
    prompt_batch_size: int | None = None  # default by device (SamLabeler)
    image_batch_size: int | None = None  # tiles per encoder call; default by device (build.IMAGE_BATCH_SIZES)
    device: str | None = None
    dtype: str | None = None
    decoding: Decoding | str | None = None  # mask-quality options (SamLabeler's Decoding), off by default
    compile: bool | str = False  # True or a torch.compile backend name
    rows_per_shard: int = 256
    skip_bad: bool = False
    overwrite: bool = False

    def __post_init__(self) -> None:
        self.root, self.out = Path(self.root), Path(self.out)

    def checked(self, check_model: bool = True) -> BuildOptions:
        """These options checked, in canonical form: the prompt and decoding as their text, the dtype by its
        torch name (``None`` stays the model's default), the model as given. ``check_model=False`` when a
        loaded labeler replaces the model. Raises ``ValueError`` / ``OSError`` naming the flag and the fix."""
        recipe = get_subset(self.subset)
        self._check_root(recipe)
        for flag, value in (
            ("--limit", self.limit),
            ("--prompt-batch-size", self.prompt_batch_size),
            ("--image-batch-size", self.image_batch_size),
            ("--rows-per-shard", self.rows_per_shard),
        ):
            if value is not None and value < 1:
                raise ValueError(f"{flag} {value}: give 1 or more")
        if self.device is not None:
            _check_device(self.device)
        dtype = None if self.dtype is None else str(resolve_dtype(self.dtype)).removeprefix("torch.")
        return replace(
            self,
            prompt=str(self._prompt(recipe)),
            dtype=dtype,
            decoding=Decoding.parse(self.decoding),
            model=check_checkpoint(self.model, "--model", EXAMPLE_MODEL) if check_model else self.model,
        )

    def _check_root(self, recipe: SubsetRecipe) -> None:
        if get_source(recipe.source).root_is_file:
            if not self.root.is_file():
                raise FileNotFoundError(f"--root {self.root}: no such file (the {recipe.source} instance .json)")
        elif not self.root.is_dir():
            raise FileNotFoundError(f"--root {self.root}: no such folder (the raw {self.subset} dataset)")

    def _prompt(self, recipe: SubsetRecipe) -> PromptSpec:
        """The prompt (the recipe's by default), parsed; refused when it needs rotated boxes the source lacks."""
        try:
            spec = PromptSpec.parse(self.prompt or recipe.prompt)
        except ValueError as error:
            raise ValueError(f"--prompt: {error}") from None
        if spec.needs_rbox and get_source(recipe.source).gives_rotated_boxes(**recipe.source_kwargs) is False:
            raise ValueError(
                f"--prompt {spec}: needs rotated boxes, and the {self.subset} subset's source ({recipe.source}, "
                f"as it reads it) has none; use hbox, hbox_m or cp"
            )
        return spec


def _check_device(device: str) -> None:
    """``ValueError`` naming ``--device`` unless torch knows it and, for CUDA, a GPU is there."""
    try:
        kind = torch.device(device).type
    except RuntimeError:
        raise ValueError(f"--device {device}: not a torch device; give cpu, cuda, cuda:1, ...") from None
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {device}: no CUDA device here; drop --device or give cpu")
