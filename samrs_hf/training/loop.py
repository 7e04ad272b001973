"""The Accelerate training loop shared by SEP pre-training and fine-tuning.

One optimisation step = ``gradient_accumulation_steps`` micro-batches on each process; the global
batch of ``batch_size`` samples is split round-robin over processes x micro-batches. AdamW with a
cosine schedule to ``min_learning_rate``; ``save_state`` checkpoints (model, optimiser, scheduler,
RNG states, step counter) every ``checkpointing_steps`` and exact resume from them; periodic
evaluation; the final model is saved with its image processor and a model card and optionally pushed
(main process only).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from tqdm.auto import tqdm

from samrs_hf.metrics import ConfusionMatrix
from samrs_hf.training.arguments import LoopArguments
from samrs_hf.training.data import Batch, centre_crop_batches
from samrs_hf.training.modeling import SepModel
from samrs_hf.training.publish import model_card, push_folder, save_model

CHECKPOINTS = "checkpoints"
TRAINING_LOG = "training_log.json"

EvalPairs = Callable[[int, int, "int | None"], Iterable[tuple[np.ndarray, np.ndarray]]]
"""``(process index, processes, limit) ->`` this process's (image, label) pairs of an evaluation split."""


class TrainInput(Protocol):
    """Where training batches come from: :class:`~samrs_hf.training.data.IndexedInput` (sources read by index)
    or :class:`~samrs_hf.training.streaming.StreamInput` (streamed)."""

    batch_sizes: dict[str, int]
    checkpointed: tuple
    """Objects saved with each checkpoint, restored before :meth:`loader` is called."""

    def loader(self, accelerator: Accelerator, args: LoopArguments, first_step: int) -> Iterable[Batch]: ...


class Progress:
    """The step counter, saved and restored by ``save_state`` / ``load_state``."""

    def __init__(self) -> None:
        self.step = 0

    def state_dict(self) -> dict:
        return {"step": self.step}

    def load_state_dict(self, state: dict) -> None:
        self.step = int(state["step"])


def make_accelerator(args: LoopArguments) -> Accelerator:
    """An ``Accelerator`` with the run's precision, accumulation and trackers; seeds every process."""
    accelerator = Accelerator(
        mixed_precision=args.mixed_precision,
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        log_with=args.report_to or None,
        project_dir=args.output_dir,
    )
    set_seed(args.seed)
    return accelerator


def latest_checkpoint(output_dir: str | Path) -> Path:
    """The ``checkpoints/step_N`` folder with the highest N."""
    folders = sorted((Path(output_dir) / CHECKPOINTS).glob("step_*"), key=lambda p: int(p.name.split("_")[1]))
    if not folders:
        raise FileNotFoundError(f"no checkpoint under {Path(output_dir) / CHECKPOINTS}")
    return folders[-1]


def evaluate(
    accelerator: Accelerator, model: torch.nn.Module, evaluation: dict[str, EvalPairs], args: LoopArguments
) -> dict[str, ConfusionMatrix]:
    """Confusion matrix per dataset on centre crops, summed over processes."""
    net = accelerator.unwrap_model(model)
    net.eval()
    matrices = {}
    with torch.no_grad(), accelerator.autocast():
        for name, pairs in evaluation.items():
            cm = ConfusionMatrix(len(net.config.heads[name]), net.config.ignore_index, device=accelerator.device)
            mine = pairs(accelerator.process_index, accelerator.num_processes, args.eval_limit)
            for images, labels in centre_crop_batches(mine, args.crop_size, args.eval_batch_size):
                logits = net(images.to(accelerator.device), head=name).logits
                cm.update(logits.argmax(1), labels.to(accelerator.device))
            matrices[name] = cm.reduce(accelerator)
    net.train()
    return matrices


def train_step(accelerator: Accelerator, model: torch.nn.Module, batch: Batch) -> torch.Tensor:
    """Forward all subsets at once, each through its own head; backward the summed loss; per-head losses."""
    images = torch.cat([pair[0] for pair in batch.values()]).to(accelerator.device)
    labels = torch.cat([pair[1] for pair in batch.values()]).to(accelerator.device)
    output = model(images, labels=labels, head_sizes={name: len(pair[1]) for name, pair in batch.items()})
    accelerator.backward(output.loss)
    return output.head_losses.detach()


def prepare(
    accelerator: Accelerator, args: LoopArguments, model: SepModel, train: TrainInput
) -> tuple[torch.nn.Module, torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler, Progress]:
    """AdamW + cosine schedule, ``accelerator.prepare``, checkpoint registration and resume."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr(), weight_decay=args.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=args.max_steps, eta_min=args.min_learning_rate
    )
    model, optimizer = accelerator.prepare(model, optimizer)
    progress = Progress()
    accelerator.register_for_checkpointing(scheduler, progress, *train.checkpointed)
    if args.resume_from_checkpoint:
        resume = args.resume_from_checkpoint
        accelerator.load_state(str(latest_checkpoint(args.output_dir) if resume == "latest" else resume))
    return model, optimizer, scheduler, progress


def fit(
    accelerator: Accelerator,
    args: LoopArguments,
    model: SepModel,
    train: TrainInput,
    evaluation: dict[str, EvalPairs],
    score: Callable[[dict[str, ConfusionMatrix]], dict[str, float]],
    dataset_name: str,
) -> list[dict]:
    """Train ``model`` on ``train`` for ``args.max_steps`` steps; returns one log row per step (also written
    to ``output_dir/training_log.json``)."""
    batch_sizes = train.batch_sizes
    model, optimizer, scheduler, progress = prepare(accelerator, args, model, train)
    accelerator.init_trackers(Path(args.output_dir).name, config={k: str(v) for k, v in asdict(args).items()})
    history: list[dict] = []
    scores: dict[str, float] = {}
    head_losses = torch.zeros(len(batch_sizes), device=accelerator.device)
    model.train()
    bar = tqdm(total=args.max_steps, initial=progress.step, disable=not accelerator.is_main_process, desc="train")
    with bar:  # closed on an error too, so that its message starts a line
        for batch in train.loader(accelerator, args, progress.step):
            with accelerator.accumulate(model):
                head_losses += train_step(accelerator, model, batch) / args.gradient_accumulation_steps
                optimizer.step()
                optimizer.zero_grad()
            if not accelerator.sync_gradients:
                continue
            lr = scheduler.get_last_lr()[0]
            scheduler.step()
            progress.step += 1
            history.append(log_row(accelerator, progress.step, head_losses, list(batch_sizes), lr))
            head_losses.zero_()
            bar.update()
            bar.set_postfix(loss=f"{history[-1]['train/loss']:.4f}")
            last = progress.step == args.max_steps
            if progress.step % args.logging_steps == 0 or last:
                accelerator.log(history[-1], step=progress.step)
            if args.checkpointing_steps and progress.step % args.checkpointing_steps == 0:
                accelerator.save_state(str(Path(args.output_dir) / CHECKPOINTS / f"step_{progress.step}"))
            if evaluation and args.eval_steps and (progress.step % args.eval_steps == 0 or last):
                scores = score(evaluate(accelerator, model, evaluation, args))
                accelerator.log(scores, step=progress.step)
                history[-1].update(scores)
    save_final(accelerator, args, model, dataset_name, batch_sizes, scores, history)
    accelerator.end_training()
    return history


def log_row(accelerator: Accelerator, step: int, head_losses: torch.Tensor, names: list[str], lr: float) -> dict:
    """Step, learning rate, summed and per-head losses averaged over processes."""
    losses = accelerator.reduce(head_losses.clone(), reduction="mean").tolist()
    row = {"step": step, "lr": lr, "train/loss": math.fsum(losses)}
    row.update({f"train/loss_{name}": value for name, value in zip(names, losses)})
    return row


def save_final(
    accelerator: Accelerator,
    args: LoopArguments,
    model: torch.nn.Module,
    dataset_name: str,
    batch_sizes: dict[str, int],
    scores: dict[str, float],
    history: list[dict],
) -> None:
    """The model, its image processor, card and this run's per-step log in ``output_dir``; upload them when
    ``push_to_hub`` (main process only; a failed upload is one line that names the saved folder)."""
    accelerator.wait_for_everyone()
    if not accelerator.is_main_process:
        return
    net = accelerator.unwrap_model(model)
    save_model(net, args.output_dir, args.crop_size)
    recipe = {
        "steps": args.max_steps,
        "batch size": args.batch_size,
        "per-dataset batch": batch_sizes,
        "crop": args.crop_size,
        "optimizer": f"AdamW lr {args.lr():g}, weight decay {args.weight_decay}",
        "schedule": f"cosine to {args.min_learning_rate:g}",
        "processes": accelerator.num_processes,
        "gradient accumulation": args.gradient_accumulation_steps,
        "mixed precision": accelerator.mixed_precision,
    }
    card = model_card(net, dataset_name, recipe, scores, args.push_to_hub or "PATH_OR_ID", args.base_model())
    card.save(Path(args.output_dir) / "README.md")
    (Path(args.output_dir) / TRAINING_LOG).write_text(json.dumps(history, indent=1) + "\n", encoding="utf-8")
    for name, value in scores.items():
        print(f"{name:40s} {value:6.2f}")
    print(f"saved the model and its card to {args.output_dir}")
    if args.push_to_hub:
        print(f"pushed it to {push_folder(args.output_dir, args.push_to_hub)}")
