"""One GPU benchmark command: labelling, the build's overhead, SEP training steps and the input pipeline.

    python benchmarks/gpu.py --json benchmarks/results_gpu.json     # one GPU: budgets add up to 8 minutes
    python benchmarks/gpu.py --quick --json /tmp/gpu-quick.json     # a CPU, tiny configs, seconds (its test)

Models have random weights built from the real configurations (SAM ViT-H, SAM 2.1 Hiera-L; ResNet-50,
Swin-T and ViT-B with UperNet): speed does not depend on the weight values. Sections, each under a
wall-clock budget (an alarm); one that fails or runs out of time records its error, the others still run:

  labelling  per model and dtype (fp32, bf16): encoder tiles/s at encode_batch 1, 4, 8; one tile labelled
             with 100 and 600 boxes at prompt chunks 16, 64, 256 (label_throughput.py's ways); ViT-H in
             bf16 also with ``compile``; the ViT-H encoder's FLOPs per tile (torch's FlopCounterMode)
  build      ``samrs build`` against SAM alone on a dense tile of 100 objects, masks shaped like a trained
             SAM's (build_throughput.py ``--masks box``; ViT-H, bf16)
  sep        one SEP step (forward, backward, AdamW; bf16) per backbone + UperNet at the paper's batch
             B = 96 of 224 crops on this one GPU: samples/s, the GPU's appetite
  input      SEP samples/s with 8 and 16 DataLoader workers, from the decoded cache, the PNGs and the stream
             (sep_input.py), on synthetic 1024 tiles

and the ratios the targets are judged on: ViT-H encoder FLOP/s in bf16 over the GPU's bf16 peak, build over
SAM alone, and each input way's samples/s over each backbone's appetite (with the workers that needs).
"""

from __future__ import annotations

import argparse
import json
import signal
import tempfile
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import build_throughput
import label_throughput
import numpy as np
import sep_input
import torch
from common import PeakMemory, machine
from datasets import load_dataset
from PIL import Image
from torch.utils.flop_counter import FlopCounterMode
from transformers import (
    ResNetBackbone,
    ResNetConfig,
    Sam2Config,
    Sam2HieraDetConfig,
    Sam2VisionConfig,
    SamConfig,
)

from samrs_hf.dataset.subsets import SUBSETS
from samrs_hf.experiments.tiny_sam import save_sam
from samrs_hf.labeling.backends import BACKENDS
from samrs_hf.training.arguments import LoopArguments
from samrs_hf.training.cache import HubSegSource, split_folder
from samrs_hf.training.cache_writer import write_cache
from samrs_hf.training.data import load_samrs, samrs_classes
from samrs_hf.training.loop import make_accelerator, train_step
from samrs_hf.training.modeling import build_sep_model
from samrs_hf.training.sampling import proportional_batch_sizes
from samrs_hf.training.streaming import open_stream, stream_workers


def sam_vit_h_config() -> SamConfig:
    """``facebook/sam-vit-huge``'s sizes."""
    vision = dict(hidden_size=1280, num_hidden_layers=32, num_attention_heads=16, global_attn_indexes=[7, 15, 23, 31])
    return SamConfig(vision_config=vision)


def sam2_large_config() -> Sam2Config:
    """``facebook/sam2.1-hiera-large``'s sizes."""
    hiera = Sam2HieraDetConfig(
        hidden_size=144,
        num_attention_heads=2,
        blocks_per_stage=[2, 6, 36, 4],
        embed_dim_per_stage=[144, 288, 576, 1152],
        num_attention_heads_per_stage=[2, 4, 8, 16],
        window_size_per_stage=[8, 4, 16, 8],
        global_attention_blocks=[23, 33, 43],
        window_positional_embedding_background_size=[7, 7],
    )
    vision = Sam2VisionConfig(backbone_config=hiera, backbone_channel_list=[1152, 576, 288, 144])
    return Sam2Config(vision_config=vision)


BF16_PEAK_FLOPS = {"H100 PCIe": 756e12, "H100 NVL": 835e12, "H100": 989e12, "H200": 989e12, "A100": 312e12}
"""Dense bf16 tensor-core peaks (NVIDIA's data sheets), by the first name part found in the device name."""
BACKBONES = ("resnet-50", "swin-t", "vit-b")
PAPER_BATCH = 96
SECTIONS = ("labelling", "build", "sep", "input")

FULL = dict(
    size=1024, boxes=(100, 600), chunks=(16, 64, 256), encode_batches=(1, 4, 8), dtypes=("float32", "bf16"),
    compile=("bf16", "inductor"), repeats=2, crop=224, sep_batch=PAPER_BATCH, sep_steps=5, decoder_channels=512,
    tiles=64, tile_size=1024, workers=(8, 16), cache_workers=16, build_objects=100,
    budgets=dict(models=60, labelling=210, build=60, sep=75, input=75),
)  # fmt: skip
QUICK = dict(
    size=256, boxes=(4,), chunks=(2, 4), encode_batches=(1, 2), dtypes=("float32",),
    compile=None, repeats=1, crop=32, sep_batch=3, sep_steps=1, decoder_channels=16,
    tiles=4, tile_size=64, workers=(1, 2), cache_workers=1, build_objects=8,
    budgets=dict(models=120, labelling=120, build=120, sep=120, input=120),
)  # fmt: skip
"""The sizes of a run on one GPU and of ``--quick`` (a CPU, tiny SAM, no SAM 2, no compilation: its test)."""


class OverBudget(Exception):
    pass


@contextmanager
def section(results: dict, name: str, seconds: int) -> Iterator[dict]:
    """``results[name]``, filled by the block within ``seconds`` (SIGALRM); an error or the alarm is recorded
    there instead of ending the benchmark."""

    def expire(signum, frame):
        raise OverBudget(f"over its {seconds} s budget")

    entry = results.setdefault(name, {})
    start, previous = time.perf_counter(), signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    print(f"== {name} (budget {seconds} s)", flush=True)
    try:
        yield entry
    except Exception as error:  # a failed section must not take the others with it
        entry["error"] = f"{type(error).__name__}: {error}"
        entry["traceback"] = traceback.format_exc(limit=-4)
        print(entry["traceback"], flush=True)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        entry["seconds"] = round(time.perf_counter() - start, 1)


def timed(device: torch.device, fn, repeats: int) -> float:
    """Best seconds of ``repeats`` calls of ``fn`` after one warm-up call."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        label_throughput.sync(device)
        start = time.perf_counter()
        fn()
        label_throughput.sync(device)
        best = min(best, time.perf_counter() - start)
    return best


def encoder_flops(labeler, image: Image.Image) -> int:
    """FLOPs of one tile's image encoding (matrix products and convolutions, 2 per multiply-add)."""
    with FlopCounterMode(display=False) as counter:
        labeler.encode(image)
    return counter.get_total_flops()


def label_model(entry: dict, path: Path, device: torch.device, settings: dict, compiled: bool) -> None:
    """Encoder tiles/s per encode_batch and seconds per labelled tile per (boxes, chunk), per dtype, into
    ``entry`` as they are measured (a section that runs out of time keeps what it has)."""
    rng = np.random.default_rng(0)
    size = settings["size"]
    images = [Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)) for _ in range(8)]
    runs = [(dtype, False) for dtype in settings["dtypes"]]
    runs += [settings["compile"]] if compiled and settings["compile"] else []
    for dtype, compile_with in runs:
        key = dtype + (f"+compile({compile_with})" if compile_with else "")
        ways = label_throughput.Ways(path, device, label_throughput.DTYPES[dtype], compile=compile_with)
        measure_labeler(entry.setdefault(key, {}), ways, images, settings, rng)
        if dtype == settings["dtypes"][-1] and not compile_with:
            entry[key]["encoder_flops_per_tile"] = encoder_flops(ways.labeler, images[0])
        del ways
        if device.type == "cuda":
            torch.cuda.empty_cache()


def measure_labeler(
    row: dict, ways: label_throughput.Ways, images: list, settings: dict, rng: np.random.Generator
) -> None:
    device, repeats = ways.device, settings["repeats"]
    tiles_per_s = row.setdefault("encoder_tiles_per_s", {})
    for n in settings["encode_batches"]:
        tiles_per_s[str(n)] = round(n / timed(device, lambda n=n: ways.labeler.encode_batch(images[:n]), repeats), 2)
    memory, per_tile = PeakMemory(device), row.setdefault("seconds_per_tile", {})
    for boxes in settings["boxes"]:
        objects = label_throughput.random_boxes(rng, boxes, settings["size"])
        for chunk in settings["chunks"]:
            seconds, peak = label_throughput.time_way(ways, f"a@{chunk}", images[:1], objects, boxes, memory)
            per_tile[f"{boxes} boxes, chunk {chunk}"] = {"seconds": seconds, "peak_mib": peak}


def sep_steps(entry: dict, device: torch.device, settings: dict, mixed_precision: str) -> None:
    """Milliseconds per SEP optimisation step and samples/s per backbone + UperNet (random input)."""
    paper = {name: recipe.sep_images for name, recipe in SUBSETS.items()}
    batch_sizes = proportional_batch_sizes(settings["sep_batch"], paper)
    args = LoopArguments(mixed_precision=mixed_precision, output_dir=tempfile.mkdtemp(prefix="sep-gpu-"))
    accelerator = make_accelerator(args)
    crop, generator = settings["crop"], torch.Generator().manual_seed(0)
    batch = {
        name: (torch.randn(b, 3, crop, crop, generator=generator), torch.randint(0, 18, (b, crop, crop)))
        for name, b in batch_sizes.items()
    }
    for backbone in settings["backbones"]:
        channels = settings["decoder_channels"]
        model = build_sep_model(backbone, "upernet", samrs_classes(list(paper)), False, channels)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        model, optimizer = accelerator.prepare(model, optimizer)
        seconds = timed(device, partial(sep_train, accelerator, model, optimizer, batch, settings["sep_steps"]), 1)
        seconds /= settings["sep_steps"]
        samples = sum(batch_sizes.values())
        rate = {"ms_per_step": round(1e3 * seconds, 1), "samples_per_s": round(samples / seconds, 1)}
        entry.setdefault("backbones", {})[backbone] = rate
        accelerator.free_memory(model, optimizer)
    entry["batch"] = batch_sizes
    entry["crop"] = crop
    entry["mixed_precision"] = mixed_precision


def sep_train(accelerator, model: torch.nn.Module, optimizer: torch.optim.Optimizer, batch: dict, steps: int) -> None:
    for _ in range(steps):
        train_step(accelerator, model, batch)
        optimizer.step()
        optimizer.zero_grad()


def input_rates(entry: dict, scratch: Path, settings: dict) -> None:
    """SEP samples/s with each worker count, from the cache, the PNGs and the stream, on synthetic tiles."""
    dataset, cache = scratch / "samrs", scratch / "cache"
    sep_input.make_synthetic(dataset, ["sota"], settings["tiles"], settings["tile_size"], rows_per_shard=4)
    rows = load_dataset(str(dataset), "sota", split="train")
    pngs = {"sota": HubSegSource(rows)}
    write_cache(rows, split_folder(cache, "sota", "train"), workers=settings["cache_workers"])
    cached = load_samrs(str(dataset), ["sota"], "train", cache=cache)
    batch_sizes = {"sota": settings["sep_batch"]}
    options = argparse.Namespace(dataset=dataset, configs=["sota"], crop_size=settings["crop"], shuffle_buffer=32)
    streams = {"sota": open_stream(str(dataset), "sota", "train")}
    for workers in settings["workers"]:
        row = entry.setdefault("samples_per_s", {}).setdefault(str(workers), {})
        for way, sources in (("cache+window", cached), ("png+window", pngs)):
            steps = 2 * workers
            wall, _, _ = sep_input.step_rate(sources, batch_sizes, way, settings["crop"], steps, workers)
            row[way] = round(wall, 1)
        readers = stream_workers(streams, workers, 1)
        stop = 3 * readers
        wall, _, first = sep_input.loader_rate(sep_input.stream_batches(options, batch_sizes, stop), readers)
        row["streaming"] = round(wall, 1)
        row["streaming_workers"] = readers
        row["streaming_first_batch_s"] = round(first, 2)


def peak_flops(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((peak for part, peak in BF16_PEAK_FLOPS.items() if part in name), None)


def ratios(result: dict, device: torch.device) -> dict:
    """The figures the targets are judged on, from what the sections measured (``None`` where one is missing)."""
    out: dict = {}
    vit_h = result.get("labelling", {}).get("sam-vit-h", {}).get("bf16", {})
    tiles_per_s = max(vit_h.get("encoder_tiles_per_s", {}).values(), default=None)
    flops, peak = vit_h.get("encoder_flops_per_tile"), peak_flops(device)
    out["vit_h_bf16_encoder_tiles_per_s"] = tiles_per_s
    out["vit_h_bf16_encoder_share_of_peak"] = tiles_per_s * flops / peak if tiles_per_s and flops and peak else None
    out["build_over_sam_alone"] = result.get("build", {}).get("build_over_sam")
    appetite = {name: row["samples_per_s"] for name, row in result.get("sep", {}).get("backbones", {}).items()}
    supply = {}
    for workers, row in result.get("input", {}).get("samples_per_s", {}).items():
        for way in ("cache+window", "png+window", "streaming"):
            if way in row:
                readers = row["streaming_workers"] if way == "streaming" else int(workers)
                supply[f"{way}, {workers} workers"] = (row[way], row[way] / readers)
    out["input_over_appetite"] = {
        f"{way} / {backbone}": {
            "ratio": round(rate / eat, 2),
            "workers_needed": int(np.ceil(eat / per_worker)) if per_worker else None,
        }
        for way, (rate, per_worker) in supply.items()
        for backbone, eat in appetite.items()
    }
    return out


def tiny_backbone(folder: Path) -> str:
    """A tiny random ResNet backbone folder (``--quick``: the SEP section's code path in a second)."""
    stages = ["stage1", "stage2", "stage3", "stage4"]
    config = ResNetConfig(embedding_size=8, hidden_sizes=[8, 16, 16, 16], depths=[1] * 4, out_features=stages)
    ResNetBackbone(config).save_pretrained(folder)
    return str(folder)


def run(args: argparse.Namespace) -> dict:
    settings = dict(QUICK if args.quick else FULL, backbones=args.backbones)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    result: dict = {"machine": machine(device), "settings": {**settings, "quick": args.quick}}
    models = (
        {"sam-vit-h": BACKENDS["sam"].tiny_config()}  # a tiny SAM 2 still encodes 256x256 tokens: not seconds
        if args.quick
        else {"sam-vit-h": sam_vit_h_config(), "sam2-large": sam2_large_config()}
    )
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        paths = {}
        if "labelling" in args.sections or "build" in args.sections:
            with section(result, "models", settings["budgets"]["models"]) as entry:
                for name, config in models.items():
                    paths[name] = save_sam(scratch / name, config)
                    entry[name] = "tiny random" if args.quick else "random weights, real sizes"
        if "labelling" in args.sections:
            with section(result, "labelling", settings["budgets"]["labelling"]) as entry:
                for name, path in paths.items():
                    label_model(entry.setdefault(name, {}), path, device, settings, compiled=name == "sam-vit-h")
        if "build" in args.sections:
            with section(result, "build", settings["budgets"]["build"]) as entry:
                flags = ["--model", str(paths["sam-vit-h"]), "--masks", "box", "--device", str(device)]
                flags += ["--scene", "dense", "--size", str(settings["size"])]
                flags += ["--objects", str(settings["build_objects"])]
                flags += ["--prompt-batch-size", "64", "--repeats", str(settings["repeats"])]
                flags += ["--json", str(scratch / "build.json")] + ([] if args.quick else ["--dtype", "bf16"])
                entry.update(build_throughput.main(flags))
        if "sep" in args.sections:
            with section(result, "sep", settings["budgets"]["sep"]) as entry:
                if args.quick:
                    settings["backbones"] = [tiny_backbone(scratch / "tiny-resnet")]
                sep_steps(entry, device, settings, "no" if args.quick else "bf16")
        if "input" in args.sections:
            with section(result, "input", settings["budgets"]["input"]) as entry:
                input_rates(entry, scratch, settings)
    result["ratios"] = ratios(result, device)
    return result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, required=True, help="where the results go")
    parser.add_argument("--quick", action="store_true", help="tiny configs and sizes: a CPU in seconds (a test)")
    parser.add_argument("--device", help="default: cuda when available")
    parser.add_argument("--sections", nargs="+", default=list(SECTIONS), choices=SECTIONS, help="what to run")
    parser.add_argument("--backbones", nargs="+", default=list(BACKBONES), help="SEP backbones to time")
    args = parser.parse_args(argv)
    result = run(args)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    print(json.dumps(result["ratios"], indent=2))
    return result


if __name__ == "__main__":
    main()
