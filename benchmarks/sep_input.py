"""SEP input pipeline throughput: augmented samples/s per DataLoader worker, the way before and the new way.

Four ways make the same training samples (same seed, same pixels):

  png+whole-tile    decode the image and label PNGs from Parquet, rescale the whole tile, crop (the way before)
  png+window        decode the PNGs, rescale only the crop window's support (the default without a cache)
  cache+whole-tile  read the decoded training cache, rescale the whole tile, crop
  cache+window      read only the window's support from the cache (the default with a cache)

For each way: milliseconds per sample by stage (in this process, one thread), and samples/s through
a ``DataLoader`` with ONE worker (torch runs one thread per worker; PIL and numpy use one) over
``--steps`` steps of ``--batch-size`` samples, the first batch (the worker's start) not counted. The
way before and the default way are also run with ``--workers`` workers. Every way runs once per
repeat, in turn, and its best repeat counts (a burst of load from other processes hits one repeat,
not one way). ``--make-synthetic N``
first writes a SAMRS folder of N realistic tiles per config (smooth multi-scale texture that
compresses like aerial imagery, ~1.9 MB PNG per 1024 tile; the label map the embedded small SAM draws for a
synthetic scene, so masks have a trained model's shapes) with the library's own writer, so the benchmark runs
anywhere::

    python benchmarks/sep_input.py --make-synthetic 64 --dataset /tmp/sep-bench --configs sota --json out.json
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import resource
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from functools import partial
from pathlib import Path

import numpy as np
import PIL
import torch
from common import PeakMemory
from datasets import load_dataset
from PIL import Image
from torch.utils.data import DataLoader

from samrs_hf.dataset.schema import image_bytes
from samrs_hf.dataset.subsets import SUBSETS
from samrs_hf.dataset.writer import SubsetWriter
from samrs_hf.experiments.synthetic import make_scene
from samrs_hf.labeling.labeler import SamLabeler
from samrs_hf.labeling.maps import LabelMapBuilder
from samrs_hf.labeling.prompts import PromptSpec
from samrs_hf.models import EMBEDDED_SAM
from samrs_hf.training import augment
from samrs_hf.training.cache import split_folder
from samrs_hf.training.cache_writer import write_cache
from samrs_hf.training.data import HubSegSource, SegSource, StepBatches, load_samrs
from samrs_hf.training.sampling import proportional_batch_sizes
from samrs_hf.training.streaming import StreamBatches, open_stream, stream_workers

WAYS = ("png+whole-tile", "png+window", "cache+whole-tile", "cache+window")
BASELINE, DEFAULT = "png+whole-tile", "cache+window"
STAGES = ("read", "choices", "scale+crop", "flip+rot90", "photometric", "tensors")


def synthetic_tile(index: int, size: int, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """A smooth RGB texture (bicubic-upsampled noise with 256, 64, 16 and 4 pixel cells, plus sensor noise)
    and the embedded small SAM's semantic map of synthetic scene ``index`` (:func:`sam_label`); seeded by
    ``index``."""
    rng = np.random.default_rng(index)
    image = 110 + rng.normal(0, 4, (size, size, 3))
    for cell, amplitude in ((256, 60), (64, 40), (16, 25), (4, 12)):
        cells = max(1, size // cell)
        for channel in range(3):
            coarse = Image.fromarray(rng.normal(0, amplitude, (cells, cells)).astype(np.float32))
            image[..., channel] += np.asarray(coarse.resize((size, size), Image.BICUBIC))
    label = np.full((size, size), 255, np.uint8)
    scene_label = sam_label(index)[:size, :size]
    label[: scene_label.shape[0], : scene_label.shape[1]] = np.where(scene_label == 255, 255, scene_label % num_classes)
    return np.clip(image, 0, 255).astype(np.uint8), label


def sam_label(index: int) -> np.ndarray:
    """The SOTA-class semantic map the embedded small SAM draws for synthetic scene ``index`` (1024x768) from its
    objects' boxes: a trained model's mask shapes and sizes (255 where no mask covers). The writer's row threads
    call it: one at a time (loading a model in two threads at once fails)."""
    with _SAM_LOCK:
        return _sam_label(index)


_SAM_LOCK = threading.Lock()


@functools.cache
def _sam_label(index: int) -> np.ndarray:
    scene, labeler, recipe = make_scene(index), _embedded_labeler(), SUBSETS["sota"]
    maps = LabelMapBuilder(scene.image.height, scene.image.width, recipe.classes, recipe.release_name)
    objects = [obj.to_source_object() for obj in scene.objects]
    for result in labeler.label_objects(scene.image, objects, PromptSpec.parse("hbox")):
        maps.add(result)
    return maps.semantic_map()


@functools.cache
def _embedded_labeler() -> SamLabeler:
    return SamLabeler(str(EMBEDDED_SAM), device="cpu")


def synthetic_row(index: int, size: int, num_classes: int) -> dict:
    """Row ``index`` of a synthetic subset (no instances: training reads the image and the semantic map)."""
    image, label = synthetic_tile(index, size, num_classes)
    return {
        "image_id": f"S{index}__{size}__0___0",
        "image": image_bytes(Image.fromarray(image)),
        "semantic_map": image_bytes(Image.fromarray(label)),
        "objects": [],
        "width": size,
        "height": size,
        "source": f"images/S{index}.png",
        "tile": [0, 0],
    }


def make_synthetic(root: Path, configs: list[str], tiles: int, size: int, rows_per_shard: int = 16) -> None:
    """Write ``tiles`` synthetic train rows per config to a new SAMRS folder ``root`` (shards + card)."""
    if root.exists():
        raise FileExistsError(f"{root} exists: --make-synthetic writes a new folder (remove it, or drop the flag)")
    for config in configs:
        recipe = SUBSETS[config]
        writer = SubsetWriter(root, recipe, rows_per_shard=rows_per_shard)
        writer.prepare({})
        with writer.open() as put:
            for index in range(tiles):
                put("train", partial(synthetic_row, index, size, len(recipe.classes)))
        writer.finish()


def transform_of(way: str) -> Callable:
    return functools.partial(augment.sep_train_transform, whole_tile=way.endswith("whole-tile"))


def stage_times(source: SegSource, way: str, crop_size: int, samples: int) -> dict[str, float]:
    """Mean milliseconds per sample of each stage of ``way`` over ``samples`` samples, in this process."""
    scale_crop = augment.whole_tile_scaled_crop if way.endswith("whole-tile") else augment.scaled_crop
    totals = dict.fromkeys(STAGES, 0.0)
    for number in range(samples):
        rng = np.random.default_rng([0, number])
        ticks = [time.perf_counter()]
        image, label = source[number % len(source)]
        ticks.append(time.perf_counter())
        choices = augment.draw_choices(*label.shape, crop_size, rng)
        ticks.append(time.perf_counter())
        image, label = scale_crop(image, label, choices, crop_size)
        ticks.append(time.perf_counter())
        image, label = augment.flip_rotate(image, label, choices)
        ticks.append(time.perf_counter())
        image = augment.photometric(image, choices)
        ticks.append(time.perf_counter())
        augment.to_tensors(image, label)
        ticks.append(time.perf_counter())
        for stage, start, stop in zip(STAGES, ticks, ticks[1:]):
            totals[stage] += stop - start
    times = {stage: round(1e3 * total / samples, 3) for stage, total in totals.items()}
    times["total"] = round(sum(times.values()), 3)
    return times


def loader_rate(
    batches: torch.utils.data.Dataset, workers: int, sampler: range | None = None
) -> tuple[float, float, float]:
    """Samples/s of ``workers`` DataLoader workers making ``batches`` (wall clock; the first round of batches,
    one per worker, the workers' start, not counted), samples per CPU second of the workers (all batches;
    what a core makes whatever else runs on the machine), and seconds to the first batch. An exhausted loader
    joins its workers, so their CPU time is then in ``RUSAGE_CHILDREN``."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    loader = iter(DataLoader(batches, batch_size=None, num_workers=workers, sampler=sampler))
    total = batch_samples(next(loader))
    first_batch = time.perf_counter() - start
    total += sum(batch_samples(next(loader)) for _ in range(workers - 1))
    start, samples = time.perf_counter(), 0
    for batch in loader:
        samples += batch_samples(batch)
    wall = time.perf_counter() - start
    done = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = done.ru_utime + done.ru_stime - children.ru_utime - children.ru_stime
    return samples / wall, (total + samples) / cpu, first_batch


def batch_samples(batch: dict) -> int:
    return sum(len(labels) for _, labels in batch.values())


def step_rate(
    sources: dict[str, SegSource], batch_sizes: dict[str, int], way: str, crop_size: int, steps: int, workers: int
) -> tuple[float, float, float]:
    """:func:`loader_rate` of SEP batches made ``way`` from sources read by index."""
    batches = StepBatches(sources, batch_sizes, crop_size, seed=0, transform=transform_of(way))
    return loader_rate(batches, workers, range(steps + workers))


def stream_batches(args: argparse.Namespace, batch_sizes: dict[str, int], stop: int) -> StreamBatches:
    """SEP batches streamed from ``args.dataset`` (one process), as ``--streaming`` pre-training makes them."""
    streams = {config: open_stream(str(args.dataset), config, "train") for config in args.configs}
    return StreamBatches(streams, batch_sizes, args.crop_size, 0, args.shuffle_buffer, stop)


def streaming(args: argparse.Namespace, batch_sizes: dict[str, int]) -> dict:
    """The streamed way: samples/s and seconds to the first batch with one worker and ``args.workers`` (at most
    one per shard), and the memory it adds to a process reading it (shuffle buffers and Parquet batches)."""
    wall, cpu, first = loader_rate(stream_batches(args, batch_sizes, args.steps + 1), 1)
    streams = {config: open_stream(str(args.dataset), config, "train") for config in args.configs}
    workers = stream_workers(streams, args.workers, 1)
    multi, _, multi_first = loader_rate(stream_batches(args, batch_sizes, args.steps + workers), workers)
    memory = PeakMemory(torch.device("cpu"))
    with memory.measure():
        for _ in zip(range(args.steps), stream_batches(args, batch_sizes, args.steps)):
            pass
    return {
        "shuffle_buffer": args.shuffle_buffer,
        "samples_per_s_one_worker": round(wall, 1),
        "samples_per_worker_cpu_s": round(cpu, 1),
        "first_batch_s_one_worker": round(first, 2),
        "multi_worker": {"workers": workers, "samples_per_s": round(multi, 1), "first_batch_s": round(multi_first, 2)},
        "memory_added_mib": round(memory.peak_mib - memory.start_mib, 1),
    }


def folder_bytes(folder: Path, pattern: str) -> int:
    return sum(path.stat().st_size for path in folder.rglob(pattern))


def machine() -> dict:
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        model = next(line.split(":", 1)[1].strip() for line in lscpu.splitlines() if line.startswith("Model name"))
    except (OSError, subprocess.CalledProcessError, StopIteration):
        model = platform.processor() or platform.machine()
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "pillow": PIL.__version__,
        "numpy": np.__version__,
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


def run(args: argparse.Namespace, cache: Path) -> dict:
    torch.set_num_threads(1)
    before = machine()
    if args.make_synthetic:
        make_synthetic(args.dataset, args.configs, args.make_synthetic, args.tile_size)
    png: dict[str, SegSource] = {}
    write_seconds = 0.0
    for config in args.configs:
        rows = load_dataset(str(args.dataset), config, split="train")
        png[config] = HubSegSource(rows)
        start = time.perf_counter()
        write_cache(rows, split_folder(cache, config, "train"), description=f"cache {config}")
        write_seconds += time.perf_counter() - start
    cached = load_samrs(str(args.dataset), args.configs, "train", cache=cache)
    tiles = sum(len(source) for source in png.values())
    batch_sizes = proportional_batch_sizes(args.batch_size, {name: len(source) for name, source in png.items()})
    same = all(
        torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
        for a, b in zip(
            StepBatches(png, batch_sizes, args.crop_size, 0, transform=transform_of(BASELINE))[0].values(),
            StepBatches(cached, batch_sizes, args.crop_size, 0)[0].values(),
        )
    )
    ways: dict[str, dict] = {}
    rates: dict[str, np.ndarray] = {}
    for repeat in range(args.repeats):
        for way in WAYS:
            sources = cached if way.startswith("cache") else png
            print(f"repeat {repeat + 1}, {way}: stages, then one DataLoader worker", flush=True)
            times = stage_times(next(iter(sources.values())), way, args.crop_size, args.samples)
            wall, cpu, _ = step_rate(sources, batch_sizes, way, args.crop_size, args.steps, 1)
            if way not in ways or times["total"] < ways[way]["ms_per_sample"]["total"]:
                ways[way] = {"ms_per_sample": times}
            rates[way] = np.maximum(rates.get(way, 0.0), (wall, cpu))
        for way in (BASELINE, DEFAULT):
            print(f"repeat {repeat + 1}, {way}: {args.workers} DataLoader workers", flush=True)
            sources = cached if way.startswith("cache") else png
            wall, cpu, _ = step_rate(sources, batch_sizes, way, args.crop_size, args.steps, args.workers)
            rates[f"{way} x{args.workers}"] = np.maximum(rates.get(f"{way} x{args.workers}", 0.0), (wall, cpu))
    for way in WAYS:
        wall, cpu = rates[way]
        ways[way].update(samples_per_s_one_worker=round(wall, 1), samples_per_worker_cpu_s=round(cpu, 1))
    multi: dict = {"workers": args.workers}
    for way in (BASELINE, DEFAULT):
        wall, cpu = rates[f"{way} x{args.workers}"]
        multi[way] = {
            "samples_per_s": round(wall, 1),
            "samples_per_s_per_worker": round(wall / args.workers, 1),
            "samples_per_worker_cpu_s": round(cpu, 1),
        }
    streamed = streaming(args, batch_sizes) if args.streaming else None
    return {
        "samples_per_s_per_worker": ways[DEFAULT]["samples_per_s_one_worker"],
        "baseline_samples_per_s_per_worker": ways[BASELINE]["samples_per_s_one_worker"],
        "default_way": DEFAULT,
        "baseline_way": BASELINE,
        "same_samples": same,
        "ways": ways,
        "multi_worker": multi,
        "streaming": streamed,
        "cache": {
            "bytes_per_tile": folder_bytes(cache, "*.npy") // tiles,
            "parquet_bytes_per_tile": folder_bytes(args.dataset, "*.parquet") // tiles,
            "write_ms_per_tile_one_process": round(1e3 * write_seconds / tiles, 1),
        },
        "setup": {
            "configs": args.configs,
            "tiles": tiles,
            "tile_size": next(iter(cached.values()))[0][1].shape[0],
            "crop_size": args.crop_size,
            "batch_size": args.batch_size,
            "steps": args.steps,
            "stage_samples": args.samples,
            "repeats": args.repeats,
        },
        "machine": {**before, "load_average_1min": [before["load_average_1min"], machine()["load_average_1min"]]},
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def table(result: dict) -> str:
    lines = [
        "| way | " + " | ".join(STAGES) + " | total ms | samples/s, 1 worker | samples / worker CPU s |",
        "|---|" + "---:|" * (len(STAGES) + 3),
    ]
    for way, row in result["ways"].items():
        times = " | ".join(f"{row['ms_per_sample'][stage]:.2f}" for stage in (*STAGES, "total"))
        lines.append(
            f"| {way} | {times} | {row['samples_per_s_one_worker']:.1f} | {row['samples_per_worker_cpu_s']:.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--dataset", type=Path, required=True, help="SAMRS folder (written first with --make-synthetic)"
    )
    parser.add_argument("--configs", nargs="+", default=["sota"], choices=sorted(SUBSETS))
    parser.add_argument("--json", type=Path, required=True, help="where the results go")
    parser.add_argument("--steps", type=int, default=20, help="batches counted per DataLoader run")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="the multi-worker run")
    parser.add_argument("--samples", type=int, default=96, help="samples timed stage by stage per way")
    parser.add_argument("--crop-size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=2, help="the best of N interleaved runs of every way")
    parser.add_argument("--make-synthetic", type=int, metavar="N", help="first write N synthetic tiles per config")
    parser.add_argument("--tile-size", type=int, default=1024, help="side of the synthetic tiles")
    parser.add_argument("--cache", type=Path, help="training cache folder (default: a temporary one)")
    parser.add_argument("--streaming", action="store_true", help="also the streamed way (load_dataset(streaming=True))")
    parser.add_argument("--shuffle-buffer", type=int, default=256, help="the streamed way's buffer per subset")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        result = run(args, args.cache or Path(scratch) / "cache")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(table(result))
    print(
        f"default ({DEFAULT}): {result['samples_per_s_per_worker']} samples/s per worker; "
        f"before ({BASELINE}): {result['baseline_samples_per_s_per_worker']}; same samples: {result['same_samples']}"
    )
    return result


if __name__ == "__main__":
    main()
