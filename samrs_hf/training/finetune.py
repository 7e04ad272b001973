"""Fine-tuning a SEP model on ISPRS Potsdam or iSAID: same backbone and decoder, a fresh head."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from samrs_hf.checkpoints import cache_only, check_hub_upload
from samrs_hf.metrics import ConfusionMatrix, segmentation_scores
from samrs_hf.training.arguments import LoopArguments
from samrs_hf.training.checks import (
    WEIGHTS_FILES,
    check_batch_size,
    check_choice,
    check_folder_or_hub_id,
    require_hub_files,
)
from samrs_hf.training.data import FractionSource, IndexedInput, SceneTiles, fraction_indices, process_pairs
from samrs_hf.training.finetune_datasets import DATASETS, SegDatasetSpec, find_scenes
from samrs_hf.training.loop import fit, make_accelerator
from samrs_hf.training.modeling import SepModel


@dataclass
class FinetuneArguments(LoopArguments):
    """Fine-tuning options; the loop options are shared with pre-training (other defaults here)."""

    dataset: str = field(default="potsdam", metadata={"help": "potsdam or isaid"})
    root: str = field(default="", metadata={"help": "dataset folder (released or mmsegmentation layout)"})
    init: str = field(default="", metadata={"help": "SEP model folder or Hub id to start from"})
    train_split: str = field(default="train", metadata={"help": "scenes to train on"})
    eval_split: str = field(default="val", metadata={"help": "scenes to evaluate on"})
    train_fraction: float = field(default=1.0, metadata={"help": "seeded random share of the training tiles"})
    tile_size: int = field(default=512, metadata={"help": "training tiles cut from each scene"})
    tile_stride: int | None = field(default=None, metadata={"help": "default: tile size (no overlap)"})
    output_dir: str = LoopArguments.with_default("output_dir", "finetune-output")
    batch_size: int = LoopArguments.with_default("batch_size", 8)
    crop_size: int = LoopArguments.with_default("crop_size", 512)
    learning_rate: float | None = field(default=6e-5, metadata={"help": "peak learning rate"})
    eval_steps: int = LoopArguments.with_default("eval_steps", 8000)

    def base_model(self) -> str:
        return self.init

    def validate(self) -> None:
        """Check the options before any work; ``ValueError`` / ``FileNotFoundError`` naming the flag and the fix."""
        check_choice("--dataset", self.dataset, DATASETS, "fine-tuning dataset")
        if not self.root:
            raise ValueError("--root is required: give the dataset folder (released or mmsegmentation layout)")
        if not Path(self.root).is_dir():
            raise FileNotFoundError(f"--root: {self.root!r} is no folder here; give the {self.dataset} dataset folder")
        check_folder_or_hub_id("--init", self.init, "a SEP model folder (samrs pretrain's --output-dir) or a Hub id")
        if not 0 < self.train_fraction <= 1:
            raise ValueError(f"--train-fraction must be in (0, 1], got {self.train_fraction}")
        if self.max_steps < 1:
            raise ValueError(f"--max-steps must be at least 1, got {self.max_steps}")


def require_init(init: str) -> None:
    """Make sure the SEP model ``init`` is a folder, or cached / downloadable from the Hub."""
    if not Path(init).is_dir():
        require_hub_files(
            init, [("config.json",), WEIGHTS_FILES], f"--init {init}", "pass --init PATH to a local SEP model folder"
        )


def load_for_finetuning(init: str, spec: SegDatasetSpec) -> SepModel:
    """The SEP model at ``init`` (safetensors) with its heads replaced by one fresh head for ``spec``."""
    model = SepModel.from_pretrained(init, use_safetensors=True, local_files_only=cache_only(init))
    model.set_heads({spec.name: list(spec.classes)})
    return model


def scorer(spec: SegDatasetSpec):
    """The dataset's reported scores (%), ``spec.exclude`` left out: Potsdam OA, per-class F1, mF1 (no
    clutter); iSAID per-class IoU and mIoU (no background)."""

    def score(matrices: dict[str, ConfusionMatrix]) -> dict[str, float]:
        scores = segmentation_scores(matrices[spec.name], spec.classes, spec.exclude)
        return {f"eval/{name}": value for name, value in scores.items() if name.split("/")[0] in spec.metrics}

    return score


def finetune(args: FinetuneArguments) -> list[dict]:
    """Fine-tune ``args.init`` on ``args.dataset``; returns the per-step log with the evaluation scores.

    The options, the availability of ``args.init`` and the upload to ``args.push_to_hub`` are checked before
    any scene is read.
    """
    args.validate()
    if args.push_to_hub:
        check_hub_upload(args.push_to_hub, "--push-to-hub")
    spec = DATASETS[args.dataset]
    accelerator = make_accelerator(args)
    require_init(args.init)
    model = load_for_finetuning(args.init, spec)
    check_batch_size(
        args.batch_size,
        accelerator.num_processes,
        args.gradient_accumulation_steps,
        model.decoder.min_micro_batch,
        f"the {model.config.decoder} decoder",
    )
    tiles = SceneTiles(find_scenes(args.root, args.train_split, spec), spec, args.tile_size, args.tile_stride)
    train = FractionSource(tiles, fraction_indices(len(tiles), args.train_fraction, args.seed))
    evaluation = SceneTiles(find_scenes(args.root, args.eval_split, spec), spec, args.crop_size)
    accelerator.print(f"{spec.name}: {len(train)} of {len(tiles)} training tiles, {len(evaluation)} evaluation tiles")
    inputs = IndexedInput({spec.name: train}, args.batch_size)
    held_out = {spec.name: partial(process_pairs, evaluation)}
    return fit(accelerator, args, model, inputs, held_out, scorer(spec), spec.name)
