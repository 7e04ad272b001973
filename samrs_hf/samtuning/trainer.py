"""``samrs train-sam``: tune SAM, SAM-HQ or SAM 2 on true masks, under Accelerate.

Each optimisation step draws ``batch_size`` images (split over processes and accumulation steps) and up to
``prompts_per_image`` of each image's objects, prompts them with a kind drawn from ``prompts``
(:mod:`samrs_hf.samtuning.prompts`: jittered boxes), and minimises SAM's loss
(:mod:`samrs_hf.samtuning.losses`) on the decoder's grid. What a step draws depends only on the seed and
the step number, so a run resumed from ``save_state`` goes on exactly as if it had not stopped.

By default the image encoder is frozen: each image is encoded once and its embedding cached
(:class:`~samrs_hf.samtuning.prepare.TensorCache`); the prompt encoder and mask decoder learn.
``train_encoder`` trains every weight; ``lora_rank`` adds LoRA adapters (``peft``) to the encoder's
attention and merges them at the end, so the result is always a plain checkpoint of the model's family.
Gradients of several processes are averaged by an all-reduce after each backward pass.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from tqdm.auto import tqdm
from transformers import get_cosine_schedule_with_warmup

from samrs_hf.checkpoints import check_checkpoint, check_hub_upload
from samrs_hf.labeling.backends import SamBackend, load_backend
from samrs_hf.labeling.prompts import PromptSpec
from samrs_hf.metrics.instance import InstanceIoU
from samrs_hf.samtuning.evaluation import evaluate
from samrs_hf.samtuning.losses import SamLoss, sam_loss
from samrs_hf.samtuning.prepare import PreparedImage, TensorCache
from samrs_hf.samtuning.prompts import DEFAULT_PROMPTS, sample_prompts
from samrs_hf.samtuning.sources import MaskSource, open_mask_source
from samrs_hf.training.loop import CHECKPOINTS, Progress, latest_checkpoint

__all__ = ["SamTuner", "TrainSamArguments", "train_sam"]

TRAINED = ("prompt_encoder.", "mask_decoder.")
"""Weights trained with a frozen image encoder."""


@dataclass
class TrainSamArguments:
    """The options of ``samrs train-sam`` (``HfArgumentParser`` turns them into flags)."""

    model: str = field(metadata={"help": "SAM, SAM-HQ or SAM 2 checkpoint to start from: Hub id or local folder"})
    train: str = field(
        metadata={
            "help": "'synthetic[:STYLE]', a COCO instance .json, an HRSC2016 folder, or potsdam:DIR / isaid:DIR "
            "(regions of thing classes); several joined by commas"
        }
    )
    output_dir: str = field(metadata={"help": "the tuned checkpoint, its card and checkpoints/"})
    eval: str | None = field(
        default=None,
        metadata={"help": "held-out source, as --train, or 'none' (default: unseen scenes for synthetic, else none)"},
    )
    train_images: str | None = field(
        default=None, metadata={"help": "image folder of a COCO --train (default: its folder)"}
    )
    eval_images: str | None = field(
        default=None, metadata={"help": "image folder of a COCO --eval (default: its folder)"}
    )
    train_split: str | None = field(
        default=None,
        metadata={"help": "HRSC2016 ImageSets list or segmentation split for --train (default: all; train)"},
    )
    eval_split: str | None = field(
        default=None,
        metadata={"help": "HRSC2016 ImageSets list or segmentation split for --eval (default: test; val)"},
    )
    synthetic_scenes: int = field(default=64, metadata={"help": "synthetic training scenes"})
    prompts: str = field(default=",".join(DEFAULT_PROMPTS), metadata={"help": "prompt kinds drawn per image"})
    prompts_per_image: int = field(default=16, metadata={"help": "objects prompted per image and step (at most)"})
    batch_size: int = field(default=4, metadata={"help": "images per optimisation step, over processes x accumulation"})
    max_steps: int = 1000
    learning_rate: float = 1e-4
    weight_decay: float = 0.01
    warmup_steps: int = field(default=100, metadata={"help": "linear warm-up, then cosine decay to 0"})
    train_encoder: bool = field(default=False, metadata={"help": "train the image encoder too (no embedding cache)"})
    lora_rank: int = field(default=0, metadata={"help": "LoRA rank on the image encoder's attention (needs peft)"})
    gradient_accumulation_steps: int = 1
    mixed_precision: str | None = field(default=None, metadata={"help": "no or bf16 (default: accelerate's)"})
    cache_memory_gb: float = field(default=2.0, metadata={"help": "embedding cache kept in memory; the rest on disk"})
    eval_prompts: str = field(default="hbox", metadata={"help": "comma list of prompt rows scored"})
    eval_limit: int = field(default=8, metadata={"help": "held-out images scored"})
    eval_steps: int = field(default=200, metadata={"help": "score every N steps (and before and after; 0: only then)"})
    checkpointing_steps: int = field(default=500, metadata={"help": "save_state every N steps (0: never)"})
    resume_from_checkpoint: str | None = field(default=None, metadata={"help": "a checkpoint folder or 'latest'"})
    logging_steps: int = 10
    report_to: list[str] = field(default_factory=list, metadata={"help": "accelerate trackers (tensorboard, wandb)"})
    push_to_hub: str | None = field(default=None, metadata={"help": "ORG/NAME to upload the tuned model to"})
    seed: int = 0

    def prompt_kinds(self) -> list[PromptSpec]:
        return [PromptSpec.parse(kind) for kind in self.prompts.split(",") if kind.strip()]

    def validate(self, processes: int) -> None:
        """One-line errors naming the flag, before any work."""
        for flag, value in (
            ("--max-steps", self.max_steps),
            ("--batch-size", self.batch_size),
            ("--prompts-per-image", self.prompts_per_image),
            ("--gradient-accumulation-steps", self.gradient_accumulation_steps),
            ("--synthetic-scenes", self.synthetic_scenes),
            ("--eval-limit", self.eval_limit),
        ):
            if value < 1:
                raise ValueError(f"{flag} must be at least 1, got {value}")
        shares = processes * self.gradient_accumulation_steps
        if self.batch_size % shares:
            raise ValueError(
                f"--batch-size {self.batch_size} does not split over {processes} process(es) x "
                f"{self.gradient_accumulation_steps} accumulation step(s); use a multiple of {shares}"
            )
        if self.mixed_precision not in (None, "no", "bf16"):
            raise ValueError(f"--mixed-precision {self.mixed_precision}: use no or bf16 (fp16 needs loss scaling)")
        if self.lora_rank < 0 or (self.lora_rank and self.train_encoder):
            raise ValueError(
                "--lora-rank must be positive and cannot go with --train-encoder (which trains every weight)"
            )
        try:
            if not self.prompt_kinds():
                raise ValueError("no prompt kind given")
            [PromptSpec.parse(row) for row in self.eval_prompts.split(",")]
        except ValueError as error:
            raise ValueError(f"--prompts / --eval-prompts: {error}") from None


class SamTuner:
    """The model being tuned, its training images and how one step is taken (see the module docstring)."""

    def __init__(self, backend: SamBackend, source: MaskSource, args: TrainSamArguments, accelerator: Accelerator):
        self.backend, self.source, self.args, self.accelerator = backend, source, args, accelerator
        self.model, self.frame = backend.model, backend.frame
        self.kinds = args.prompt_kinds()
        self.frozen = not (args.train_encoder or args.lora_rank)
        self.cache = TensorCache(int(args.cache_memory_gb * 2**30))
        self.images: dict[int, PreparedImage | None] = {}
        self.encoding_seconds = 0.0
        if args.lora_rank:
            self._add_lora(args.lora_rank)
        self.set_trainable()

    def _add_lora(self, rank: int) -> None:
        try:
            from peft import LoraConfig, get_peft_model
        except ImportError:
            raise ValueError("--lora-rank needs peft: pip install 'samrs-hf[lora]'") from None
        config = LoraConfig(r=rank, lora_alpha=rank, target_modules=["qkv"])
        self.model.vision_encoder = get_peft_model(self.model.vision_encoder, config)

    def set_trainable(self) -> None:
        """Freeze what the recipe keeps: the image encoder (all of it, or but its LoRA adapters) by default."""
        for name, parameter in self.model.named_parameters():
            parameter.requires_grad_(
                self.args.train_encoder or name.startswith(TRAINED) or (self.args.lora_rank > 0 and "lora_" in name)
            )

    def trainable(self) -> list[torch.nn.Parameter]:
        return [p for p in self.model.parameters() if p.requires_grad]

    def merged_model(self) -> torch.nn.Module:
        """The model with LoRA adapters merged into the encoder's weights (a plain model of its family)."""
        if self.args.lora_rank:
            self.model.vision_encoder = self.model.vision_encoder.merge_and_unload()
        return self.model

    def prepared(self, index: int) -> PreparedImage | None:
        """Image ``index`` in the model's frame (prepared on first use); its tensors go to the cache."""
        if index not in self.images:
            image = self.source[index]
            prepared = PreparedImage.of(image, self.frame)
            if prepared is not None:
                pixels = self.backend.pixel_values([image.image])
                if self.frozen:
                    start = time.perf_counter()
                    with torch.no_grad(), self.accelerator.autocast():
                        encoded = self.backend.encode(pixels.to(self.accelerator.device))
                    self.encoding_seconds += time.perf_counter() - start
                else:
                    encoded = (pixels.to(torch.bfloat16 if self.args.mixed_precision == "bf16" else pixels.dtype),)
                self.cache.put(index, (prepared.targets.to(torch.uint8), *encoded))
            self.images[index] = prepared
        return self.images[index]

    def micro_batch(self, step: int, micro: int) -> list[int]:
        """This process's image indices of micro-batch ``micro`` of step ``step`` (a function of the seed and step)."""
        args, acc = self.args, self.accelerator
        size = args.batch_size // args.gradient_accumulation_steps
        rng = np.random.default_rng([args.seed, step, micro])
        indices = rng.choice(len(self.source), size=size, replace=len(self.source) < size)
        return [int(i) for i in indices[acc.process_index :: acc.num_processes]]

    def loss(self, step: int, micro: int) -> SamLoss | None:
        """SAM's loss on one micro-batch (``None`` when none of its images has an object)."""
        device = self.accelerator.device
        logits, ious, targets, pixels, batch = [], [], [], [], []
        for position, index in enumerate(self.micro_batch(step, micro)):
            image = self.prepared(index)
            if image is None:
                continue
            rng = np.random.default_rng([self.args.seed, step, micro, position])
            count = min(self.args.prompts_per_image, len(image.objects))
            chosen = np.sort(rng.choice(len(image.objects), size=count, replace=False))
            cached = self.cache.get(index)
            _, inputs = sample_prompts([image.objects[i] for i in chosen], image.size, self.frame, self.kinds, rng)
            targets.append(cached[0][torch.from_numpy(chosen)].bool())
            batch.append(({k: v.to(device) for k, v in inputs.items()}, cached[1:]))
            pixels.append(cached[1])
        if not batch:
            return None
        with self.accelerator.autocast():
            if not self.frozen:
                encoded = self.backend.encode(torch.cat(pixels).to(device).float())
                batch = [(inputs, tuple(t[i : i + 1] for t in encoded)) for i, (inputs, _) in enumerate(batch)]
            for inputs, embeddings in batch:
                masks, scores = self.backend.decode_prompts(tuple(t.to(device) for t in embeddings), inputs, False)
                logits.append(masks[:, 0])
                ious.append(scores[:, 0])
        return sam_loss(torch.cat(logits), torch.cat(ious), torch.cat(targets).to(device))


def _reduce_gradients(accelerator: Accelerator, parameters: list[torch.nn.Parameter]) -> None:
    """Average the gradients over processes (the model is not wrapped in DDP: the backends call its parts)."""
    if accelerator.num_processes > 1:
        for parameter in parameters:
            if parameter.grad is not None:
                parameter.grad = accelerator.reduce(parameter.grad, reduction="mean")


def _eval_source(args: TrainSamArguments) -> MaskSource | None:
    if args.eval == "none":
        return None
    if args.eval:
        return open_mask_source(args.eval, "--eval", False, args.eval_images, args.eval_split, args.eval_limit)
    if args.train.startswith("synthetic"):
        return open_mask_source(args.train, "--eval", False, count=args.eval_limit)
    return None


def _score(tuner: SamTuner, source: MaskSource | None, args: TrainSamArguments, step: int) -> dict[str, InstanceIoU]:
    """The scores of every ``--eval-prompts`` row, also written as one line below the progress bar."""
    if source is None:
        return {}
    rows = [row.strip() for row in args.eval_prompts.split(",") if row.strip()]
    scores = evaluate(tuner.backend, source, rows, args.eval_limit, tuner.accelerator, desc=f"scoring at step {step}")
    if tuner.accelerator.is_main_process:
        summary = ", ".join(f"{row} {s.miou_i:.2f} / {s.miou_p:.2f}" for row, s in scores.items())
        tqdm.write(f"step {step}: mIoU_I / mIoU_P (%) {summary}")
    return scores


def train_sam(args: TrainSamArguments) -> dict:
    """Tune ``args.model`` on ``args.train``; write the checkpoint and its card to ``args.output_dir``. Returns the
    run's record (scores before and after, per-evaluation history, timings) as written on the card."""
    accelerator = Accelerator(
        mixed_precision=args.mixed_precision, log_with=args.report_to or None, project_dir=args.output_dir
    )
    args.validate(accelerator.num_processes)
    set_seed(args.seed)
    if args.push_to_hub:
        check_hub_upload(args.push_to_hub, "--push-to-hub")
    checkpoint = check_checkpoint(args.model, "--model", "facebook/sam-vit-base")
    source = open_mask_source(args.train, "--train", True, args.train_images, args.train_split, args.synthetic_scenes)
    if len(source) == 0:
        raise ValueError(f"--train {args.train}: no image with objects")
    evaluation = _eval_source(args)
    backend = load_backend(checkpoint, accelerator.device, torch.float32)
    tuner = SamTuner(backend, source, args, accelerator)
    parameters = tuner.trainable()
    optimizer = torch.optim.AdamW(parameters, lr=args.learning_rate, weight_decay=args.weight_decay)
    scheduler = get_cosine_schedule_with_warmup(optimizer, min(args.warmup_steps, args.max_steps), args.max_steps)
    progress = Progress()
    accelerator.register_for_checkpointing(tuner.model, optimizer, scheduler, progress)
    if args.resume_from_checkpoint:
        resume = args.resume_from_checkpoint
        accelerator.load_state(str(latest_checkpoint(args.output_dir) if resume == "latest" else resume))
    accelerator.init_trackers(Path(args.output_dir).name, config={k: str(v) for k, v in asdict(args).items()})
    record = {"before": _score(tuner, evaluation, args, progress.step), "history": [], "started": time.time()}
    bar = tqdm(total=args.max_steps, initial=progress.step, desc="train-sam", disable=not accelerator.is_main_process)
    tuner.model.train()
    while progress.step < args.max_steps:
        parts = []
        for micro in range(args.gradient_accumulation_steps):
            loss = tuner.loss(progress.step, micro)
            if loss is not None:
                accelerator.backward(loss.total / args.gradient_accumulation_steps)
                parts.append(loss.items())
        _reduce_gradients(accelerator, parameters)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        progress.step += 1
        bar.update()
        row = {f"train/{k}": float(np.mean([p[k] for p in parts])) for k in parts[0]} if parts else {}
        bar.set_postfix(loss=f"{row.get('train/total', math.nan):.4f}")
        if progress.step % args.logging_steps == 0:
            accelerator.log({**row, "lr": scheduler.get_last_lr()[0]}, step=progress.step)
        if args.checkpointing_steps and progress.step % args.checkpointing_steps == 0:
            accelerator.save_state(str(Path(args.output_dir) / CHECKPOINTS / f"step_{progress.step}"))
        if args.eval_steps and progress.step % args.eval_steps == 0 and progress.step < args.max_steps:
            scores = _score(tuner, evaluation, args, progress.step)
            record["history"].append({"step": progress.step, **row, **_flat(scores)})
            accelerator.log(_flat(scores), step=progress.step)
            tuner.model.train()
    bar.close()
    record["after"] = _score(tuner, evaluation, args, progress.step)
    record["seconds"] = time.time() - record.pop("started")
    record["encoding_seconds"] = tuner.encoding_seconds
    record["device"] = str(accelerator.device)
    _save(tuner, args, accelerator, source, evaluation, record)
    accelerator.end_training()
    return record


def _flat(scores: dict[str, InstanceIoU]) -> dict[str, float]:
    return {f"eval/{row}/{k}": v for row, s in scores.items() for k, v in s.as_dict().items() if k != "instances"}


def _save(
    tuner: SamTuner,
    args: TrainSamArguments,
    accelerator: Accelerator,
    source: MaskSource,
    evaluation: MaskSource | None,
    record: dict,
) -> None:
    """The tuned checkpoint (strictly loadable by its family's class), its card and ``train_sam.json`` (the
    arguments, scores before and after, history and timings); the upload when asked."""
    from samrs_hf.samtuning.card import tuned_model_card

    accelerator.wait_for_everyone()
    if not accelerator.is_main_process:
        return
    tuner.merged_model().eval()
    tuner.backend.save_pretrained(args.output_dir)
    card = tuned_model_card(tuner.backend, args, source, evaluation, record, sys.argv)
    card.save(Path(args.output_dir) / "README.md")
    scores = {when: {row: s.as_dict() for row, s in record[when].items()} for when in ("before", "after")}
    saved = {
        "arguments": asdict(args),
        **record,
        **scores,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (Path(args.output_dir) / "train_sam.json").write_text(json.dumps(saved, indent=2) + "\n", encoding="utf-8")
    print(card.text.split("## Evaluation", 1)[-1].split("##", 1)[0].strip())
    print(f"saved the tuned model and its card to {args.output_dir}")
    if args.push_to_hub:
        from samrs_hf.training.publish import push_folder

        url = push_folder(args.output_dir, args.push_to_hub, "Upload SAM tuned with samrs train-sam")
        print(f"pushed it to {url}")
