"""Fine-tuning a SEP model on ISPRS Potsdam or iSAID: same backbone and decoder, a fresh head."""

from __future__ import annotations

from dataclasses import dataclass, field

from samrs_hf.metrics import ConfusionMatrix, segmentation_scores
from samrs_hf.sources.segmentation import DATASETS, SegDatasetSpec, find_scenes
from samrs_hf.training.data import FractionSource, SceneTiles, fraction_indices
from samrs_hf.training.loop import LoopArguments, fit, make_accelerator
from samrs_hf.training.modeling import SepModel


@dataclass
class FinetuneArguments(LoopArguments):
    """Fine-tuning options; the loop options are shared with pre-training (other defaults here)."""

    dataset: str = field(default="potsdam", metadata={"help": "potsdam or isaid"})
    root: str = field(default="", metadata={"help": "dataset folder (released or mmsegmentation layout)"})
    init: str = field(default="", metadata={"help": "SEP model folder or Hub id to start from"})
    train_split: str = "train"
    eval_split: str = "val"
    train_fraction: float = field(default=1.0, metadata={"help": "seeded random share of the training tiles"})
    tile_size: int = field(default=512, metadata={"help": "training tiles cut from each scene"})
    tile_stride: int | None = field(default=None, metadata={"help": "default: tile size (no overlap)"})
    output_dir: str = "finetune-output"
    batch_size: int = 8
    crop_size: int = 512
    learning_rate: float | None = 6e-5
    eval_steps: int = 8000


def load_for_finetuning(init: str, spec: SegDatasetSpec) -> SepModel:
    """The SEP model at ``init`` (safetensors) with its heads replaced by one fresh head for ``spec``."""
    model = SepModel.from_pretrained(init, use_safetensors=True)
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
    """Fine-tune ``args.init`` on ``args.dataset``; returns the per-step log with the evaluation scores."""
    if args.dataset not in DATASETS:
        raise ValueError(f"unknown dataset {args.dataset!r}; choose from {', '.join(DATASETS)}")
    if not args.root or not args.init:
        raise ValueError("--root (dataset folder) and --init (SEP model folder or Hub id) are required")
    spec = DATASETS[args.dataset]
    accelerator = make_accelerator(args)
    tiles = SceneTiles(find_scenes(args.root, args.train_split, spec), spec, args.tile_size, args.tile_stride)
    train = FractionSource(tiles, fraction_indices(len(tiles), args.train_fraction, args.seed))
    evaluation = SceneTiles(find_scenes(args.root, args.eval_split, spec), spec, args.crop_size)
    accelerator.print(f"{spec.name}: {len(train)} of {len(tiles)} training tiles, {len(evaluation)} evaluation tiles")
    model = load_for_finetuning(args.init, spec)
    return fit(
        accelerator,
        args,
        model,
        {spec.name: train},
        {spec.name: args.batch_size},
        {spec.name: evaluation},
        scorer(spec),
        spec.name,
    )
