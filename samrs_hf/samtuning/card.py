"""The model card of a tuned SAM: what it started from, the data, prompts and recipe, and the before/after table."""

from __future__ import annotations

import math
import os
import platform
import shlex
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import torch
from huggingface_hub import ModelCard, ModelCardData

from samrs_hf.labeling.backends import SamBackend
from samrs_hf.metrics.instance import InstanceIoU
from samrs_hf.samtuning.sources import MaskSource

__all__ = ["scores_table", "tuned_model_card"]


def _machine() -> str:
    """The CPU's model name (Linux), else what ``platform`` knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()}, {os.cpu_count()} cores"
    return platform.processor() or platform.machine()


def _cell(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.2f}"


def scores_table(before: dict[str, InstanceIoU], after: dict[str, InstanceIoU]) -> str:
    """Markdown: one line per prompt row, ``mIoU_I`` / ``mIoU_P`` (%) before and after tuning."""
    if not after:
        return "No evaluation source: nothing was scored."
    lines = [
        "| prompt | mIoU_I before | mIoU_I after | mIoU_P before | mIoU_P after | instances |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row, end in after.items():
        start = before.get(row, InstanceIoU())
        cells = [_cell(start.miou_i), _cell(end.miou_i), _cell(start.miou_p), _cell(end.miou_p), str(end.instances)]
        lines.append(f"| `{row}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def tuned_model_card(
    backend: SamBackend,
    args,
    source: MaskSource,
    evaluation: MaskSource | None,
    record: dict,
    argv: Sequence[str],
) -> ModelCard:
    """A card recording the command, starting checkpoint, data, prompts, steps, time and the scores."""
    frame = backend.frame
    trained = "every weight" if args.train_encoder else "prompt encoder + mask decoder"
    if args.lora_rank:
        trained += f", LoRA rank {args.lora_rank} on the image encoder's attention (merged)"
    recipe = {k: v for k, v in asdict(args).items() if v not in (None, [], "")}
    settings = "\n".join(f"- `{key}`: `{value}`" for key, value in recipe.items())
    history = "\n".join(
        f"| {row['step']} | {row.get('train/total', math.nan):.4f} | "
        + ", ".join(f"{k[5:]} {v:.2f}" for k, v in row.items() if k.startswith("eval/"))
        + " |"
        for row in record["history"]
    )
    data = ModelCardData(
        library_name="transformers", pipeline_tag="mask-generation", tags=["sam", "remote-sensing", "samrs"]
    )
    body = f"""
# {backend.family} tuned with `samrs train-sam`

Started from `{args.model}` ({type(backend.model).__name__}, input frame: longest side {frame.longest_edge} px
padded to {frame.pad_size[1]}x{frame.pad_size[0]}, masks on a {frame.mask_size[1]}x{frame.mask_size[0]} grid);
trained: {trained}.
It loads strictly with `{type(backend.model).__name__}.from_pretrained` and labels with samrs-hf
(`samrs build --model PATH`, `samrs ablate --model PATH`, `samrs demo --model PATH`).

## Command

```bash
{shlex.join(["samrs", *argv[1:]]) if argv and argv[0].endswith("samrs") else shlex.join(argv)}
```

## Data

- training: {source.description}
- evaluation: {evaluation.description if evaluation is not None else "none"}
- prompts drawn per image and step: `{args.prompts}` (boxes jittered as in SAM's training: 10% of the
  side, at most 20 px)
- loss: 20 x focal + dice on the masks, MSE on the predicted IoU (SAM's)

## Training

- steps: {args.max_steps}, {args.batch_size} images per step, at most {args.prompts_per_image} prompts per image
- time: {record["seconds"] / 60:.1f} min on {record["device"]} ({_machine()}, {torch.get_num_threads()} torch threads),
  of which {record["encoding_seconds"]:.1f} s encoding images for the embedding cache
- finished: {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}

{settings}

## Evaluation

mIoU_I (mean over instances of I/U) and mIoU_P (sum of I over sum of U), in %, as in SAMRS Table 1, on
{evaluation.description if evaluation is not None else "nothing"}:

{scores_table(record["before"], record["after"])}

## History

| step | loss | scores (mIoU_I, mIoU_P per row) |
|---:|---:|---|
{history}
"""
    return ModelCard(f"---\n{data.to_yaml()}\n---\n{body}")
