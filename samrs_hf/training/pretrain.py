"""SEP pre-training: one model, one head per SAMRS subset, proportional per-subset batches."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import partial

from accelerate import Accelerator

from samrs_hf.checkpoints import cache_only, check_hub_upload
from samrs_hf.dataset.folder import subset_splits
from samrs_hf.dataset.subsets import SUBSETS
from samrs_hf.metrics import ConfusionMatrix
from samrs_hf.training.arguments import LoopArguments
from samrs_hf.training.backbones import BACKBONES, hub_id
from samrs_hf.training.checks import (
    check_backbone,
    check_batch_size,
    check_choice,
    check_folder_or_hub_id,
    require_backbone,
)
from samrs_hf.training.data import IndexedInput, load_samrs, process_pairs, samrs_classes
from samrs_hf.training.decoders import DECODERS
from samrs_hf.training.loop import EvalPairs, TrainInput, fit, make_accelerator
from samrs_hf.training.modeling import build_sep_model
from samrs_hf.training.streaming import StreamInput, stream_pairs

logger = logging.getLogger(__name__)


@dataclass
class SepArguments(LoopArguments):
    """The paper's SEP defaults: SOTA + SIOR + FAST, ResNet-50 + UperNet, B = 96, 80k steps, 224 crops."""

    dataset: str = field(default="samrs", metadata={"help": "SAMRS dataset folder or Hub id"})
    configs: list[str] = field(default_factory=lambda: list(SUBSETS), metadata={"help": "subsets (one head each)"})
    train_split: str = field(default="train", metadata={"help": "split to train on"})
    eval_split: str | None = field(default="validation", metadata={"help": "held-out split for mIoU (if present)"})
    backbone: str = field(default="resnet-50", metadata={"help": f"{', '.join(BACKBONES)}, or a model folder / Hub id"})
    pretrained_backbone: bool = field(
        default=True,
        metadata={"help": "load the backbone's ImageNet weights (--no-pretrained-backbone: random weights)"},
    )
    decoder: str = field(default="upernet", metadata={"help": f"one of {', '.join(DECODERS)}"})
    decoder_channels: int = field(default=512, metadata={"help": "width of the decoder's feature map"})
    streaming: bool = field(
        default=False,
        metadata={"help": "stream the dataset (Hub id or folder) with load_dataset(streaming=True): no local copy"},
    )
    shuffle_buffer: int = field(
        default=256, metadata={"help": "with --streaming: rows per subset and DataLoader worker shuffled together"}
    )

    def validate(self, num_processes: int = 1) -> None:
        """Check the options before any work; ``ValueError`` / ``FileNotFoundError`` naming the flag and the fix."""
        if not self.configs:
            raise ValueError(f"--configs: give at least one of {', '.join(SUBSETS)}")
        for config in self.configs:
            check_choice("--configs", config, SUBSETS, "SAMRS config")
        check_folder_or_hub_id("--dataset", self.dataset, "the SAMRS folder written by `samrs build` or a Hub id")
        check_backbone(self.backbone)
        check_choice("--decoder", self.decoder, DECODERS, "decoder")
        if self.max_steps < 1:
            raise ValueError(f"--max-steps must be at least 1, got {self.max_steps}")
        if self.shuffle_buffer < 1:
            raise ValueError(f"--shuffle-buffer must be at least 1, got {self.shuffle_buffer}")
        if self.streaming and self.training_cache:
            raise ValueError("--training-cache is read from disk, --streaming reads no local copy: give one of them")
        minimum = DECODERS[self.decoder].min_micro_batch
        check_batch_size(
            self.batch_size, num_processes, self.gradient_accumulation_steps, minimum, f"the {self.decoder} decoder"
        )


def load_evaluation(args: SepArguments) -> dict[str, EvalPairs]:
    """The held-out split of each config that has one, streamed or read like the training split. Only a split
    the dataset lacks is skipped (with a one-line warning): a damaged split or a stale cache is an error."""
    if not args.eval_split or not args.eval_steps:
        return {}
    evaluation: dict[str, EvalPairs] = {}
    for config in args.configs:
        if args.eval_split not in subset_splits(args.dataset, config):
            logger.warning("no %r split for %s: not evaluated", args.eval_split, config)
        elif args.streaming:
            evaluation[config] = partial(stream_pairs, args.dataset, config, args.eval_split)
        else:
            (source,) = load_samrs(args.dataset, [config], args.eval_split, cache=args.training_cache).values()
            evaluation[config] = partial(process_pairs, source)
    return evaluation


def training_input(args: SepArguments, accelerator: Accelerator) -> TrainInput:
    """The training split's configs, streamed or read by index."""
    if args.streaming:
        return StreamInput(
            args.dataset, args.configs, args.train_split, args.batch_size, args.shuffle_buffer, accelerator
        )
    return IndexedInput(load_samrs(args.dataset, args.configs, args.train_split, args.training_cache), args.batch_size)


def miou_scores(matrices: dict[str, ConfusionMatrix]) -> dict[str, float]:
    """mIoU (%) per subset over the classes present in its ground truth or predictions."""
    return {f"eval/{name}/mIoU": 100 * cm.mean(cm.iou()) for name, cm in matrices.items()}


def pretrain(args: SepArguments) -> list[dict]:
    """Run SEP pre-training; returns the per-step log (losses, learning rate, eval mIoU).

    The options, the availability of the backbone's weights and the upload to ``args.push_to_hub`` are
    checked before any data is read.
    """
    accelerator = make_accelerator(args)
    args.validate(accelerator.num_processes)
    if args.push_to_hub:
        check_hub_upload(args.push_to_hub, "--push-to-hub")
    require_backbone(args.backbone, args.pretrained_backbone)
    train = training_input(args, accelerator)
    accelerator.print(f"per-subset batch sizes: {train.batch_sizes}")
    heads, local_only = samrs_classes(args.configs), args.pretrained_backbone and cache_only(hub_id(args.backbone))
    model = build_sep_model(
        args.backbone, args.decoder, heads, args.pretrained_backbone, args.decoder_channels, local_only
    )
    return fit(accelerator, args, model, train, load_evaluation(args), miou_scores, args.dataset)
