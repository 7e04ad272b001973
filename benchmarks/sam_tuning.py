"""SAM tuning on a CPU: the embedded model's Table 1 in miniature, fine-tuning to an appearance it never saw,
and the speed of the tuning loop.

  table1    ``samrs ablate`` rows (the paper's 15) with the embedded small SAM on ``--scenes`` synthetic scenes
            written in HRSC2016's layout (seeds from 1000: scenes it was not trained on)
  finetune  ``samrs train-sam`` from the embedded model on ``--finetune-scenes`` scenes whose objects are dark
            (style ``dark``; it was trained on light ones; ``--finetune-train synthetic:dark,synthetic`` adds as
            many of its old training scenes), frozen image encoder (the default recipe; ``--finetune-encoder
            train`` trains every weight, ``lora8`` LoRA adapters of rank 8 on its attention), then
            mIoU_I / mIoU_P with hbox prompts on held-out dark scenes and on held-out scenes of the old
            (light) style, before and after
  speed     filling the embedding cache (s per image, bytes per image), decoder training steps/s on cached
            embeddings (frozen encoder) and prompts/s, for the embedded model and a tiny SAM in SAM's
            1024 frame

    python benchmarks/sam_tuning.py --json benchmarks/results_sam_tuning_cpu.json
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator
from common import machine, report

from samrs_hf.experiments.ablation import ablation_image_ids, parse_rows, run_ablation
from samrs_hf.experiments.synthetic import make_scene, write_hrsc_scenes
from samrs_hf.experiments.tiny_sam import save_tiny_sam
from samrs_hf.labeling.backends import load_backend
from samrs_hf.labeling.labeler import SamLabeler
from samrs_hf.models import EMBEDDED_SAM
from samrs_hf.samtuning.evaluation import evaluate
from samrs_hf.samtuning.sources import SyntheticMasks
from samrs_hf.samtuning.trainer import SamTuner, TrainSamArguments, train_sam
from samrs_hf.sources.hrsc2016 import HRSC2016

FIRST_SEED = 1000


def table1(model: str, scenes: int, folder: Path) -> dict:
    """The paper's 15 rows on ``scenes`` synthetic HRSC2016-format scenes: mIoU_I, mIoU_P, instances per row."""
    root = write_hrsc_scenes(folder, [make_scene(FIRST_SEED + i, f"s{FIRST_SEED + i}") for i in range(scenes)])
    source = HRSC2016(root)
    results = run_ablation(source, SamLabeler(model, "cpu"), parse_rows("paper"), ablation_image_ids(source))
    return {row: meter.as_dict() for row, meter in results.items()}


def _scores(model: str, style: str, scenes: int) -> dict:
    accelerator = Accelerator(cpu=True)
    backend = load_backend(model, accelerator.device, torch.float32)
    source = SyntheticMasks(scenes, training=False, first=FIRST_SEED, style=style)
    return evaluate(backend, source, ["hbox"], scenes, accelerator, desc=f"scoring {style}")["hbox"].as_dict()


def finetune(
    model: str, train: str, scenes: int, eval_scenes: int, steps: int, lr: float, encoder: str, folder: Path
) -> dict:
    """Tune ``model`` on ``train`` (dark scenes); hbox scores on held-out dark and light scenes before and after."""
    before = {style: _scores(model, style, eval_scenes) for style in ("dark", "default")}
    lora = int(encoder.removeprefix("lora")) if encoder.startswith("lora") else 0
    args = TrainSamArguments(
        model, train, str(folder / "tuned"), synthetic_scenes=scenes, max_steps=steps, batch_size=2,
        learning_rate=lr, warmup_steps=20, eval_steps=0, eval_limit=1, checkpointing_steps=0,
        train_encoder=encoder == "train", lora_rank=lora,
    )  # fmt: skip
    start = time.perf_counter()
    train_sam(args)
    seconds = time.perf_counter() - start
    after = {style: _scores(args.output_dir, style, eval_scenes) for style in ("dark", "default")}
    return {
        "recipe": {k: str(v) for k, v in vars(args).items()},
        "training_seconds": seconds,
        "before": before,
        "after": after,
        "dark_gain_points": after["dark"]["mIoU_I"] - before["dark"]["mIoU_I"],
        "light_change_points": after["default"]["mIoU_I"] - before["default"]["mIoU_I"],
    }


def speed(model: str, steps: int, prompts_per_image: int) -> dict:
    """Embedding-cache fill and decoder training speed of ``model`` (frozen encoder) on synthetic scenes."""
    accelerator = Accelerator(cpu=True)
    backend = load_backend(model, accelerator.device, torch.float32)
    args = TrainSamArguments(model, "synthetic", "unused", batch_size=2, prompts_per_image=prompts_per_image)
    tuner = SamTuner(backend, SyntheticMasks(4, training=True), args, accelerator)
    for index in range(4):
        tuner.prepared(index)
    optimizer = torch.optim.AdamW(tuner.trainable(), lr=1e-4)
    times, prompts = [], 0
    for step in range(steps + 1):
        start = time.perf_counter()
        loss = tuner.loss(step, 0)
        loss.total.backward()
        optimizer.step()
        optimizer.zero_grad()
        if step:  # the first step warms up
            times.append(time.perf_counter() - start)
            prompts += 2 * prompts_per_image
    cached = tuner.cache.get(0)
    return {
        "frame": str(backend.frame),
        "encode_seconds_per_image": tuner.encoding_seconds / 4,
        "cache_bytes_per_image": sum(t.numel() * t.element_size() for t in cached[1:]),
        "decoder_steps_per_s": len(times) / sum(times),
        "prompts_per_s": prompts / sum(times),
        "step_seconds_median": float(np.median(times)),
        "images_per_step": 2,
        "prompts_per_image": prompts_per_image,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(EMBEDDED_SAM), help="default: the embedded small SAM")
    parser.add_argument("--scenes", type=int, default=4, help="table1 scenes")
    parser.add_argument("--finetune-scenes", type=int, default=8, help="training scenes (of each source)")
    parser.add_argument(
        "--finetune-train",
        default="synthetic:dark",
        help="train-sam source: dark scenes, or with some of the old ones: synthetic:dark,synthetic",
    )
    parser.add_argument("--eval-scenes", type=int, default=4, help="held-out scenes per style")
    parser.add_argument("--finetune-steps", type=int, default=300)
    parser.add_argument("--finetune-lr", type=float, default=3e-4)
    parser.add_argument(
        "--finetune-encoder",
        default="frozen",
        help="frozen (the default recipe: prompt encoder + decoder learn), train (every weight) or loraR (rank R)",
    )
    parser.add_argument("--speed-steps", type=int, default=10)
    parser.add_argument("--parts", nargs="+", default=["table1", "finetune", "speed"])
    parser.add_argument("--json", help="write the result here")
    args = parser.parse_args(argv)
    result = {"machine": machine(torch.device("cpu")), "model": args.model}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if "table1" in args.parts:
            result["table1"] = table1(args.model, args.scenes, tmp / "hrsc")
        if "finetune" in args.parts:
            scenes, steps = args.finetune_scenes, args.finetune_steps
            result["finetune"] = finetune(
                args.model,
                args.finetune_train,
                scenes,
                args.eval_scenes,
                steps,
                args.finetune_lr,
                args.finetune_encoder,
                tmp,
            )
        if "speed" in args.parts:
            tiny = str(save_tiny_sam(tmp / "tiny"))
            result["speed"] = {
                "embedded": speed(args.model, args.speed_steps, 16),
                "tiny SAM, 1024 frame": speed(tiny, args.speed_steps, 16),
            }
    return report(result, args.json)


if __name__ == "__main__":
    main()
