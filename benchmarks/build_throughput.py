"""Build throughput: the whole ``samrs build`` against SAM alone on the same prompts, in one process.

A DOTA-format scene of ``--size`` pixels (four overlapping 1024 tiles at the default 1848) is written to a
temporary folder, unless ``--root`` gives a real one (read with ``--split``, default ``all``): ``--scene
synthetic`` (default) tiles it with the synthetic scenes the embedded small SAM was trained on, so its masks
fit their objects; ``--scene dense`` draws ``--objects`` rotated boxes, mostly vehicles, as bright boxes on a
smooth ground (a stress test of many objects per tile; the embedded model has never seen such a ground, and
its masks there spread over the tile). The labeler is loaded once,
outside the timings (start-up excluded). Then, on the same tiles and prompts:

  sam    SAM alone: the processor + image encoder per tile, and the mask decoder per prompt chunk
  build  ``build_subset`` end to end: reading, tiling, prompts, SAM, mask upscaling, painting, RLE,
         rows, PNG encoding and Parquet shards (the writer overlaps the labelling, its default row threads
         building rows at once)
  one_thread  the same build with one row thread (the writer before row threads)
  naive  the same build the way before windowing: every mask upscaled and RLE-encoded at full tile
         size (one ``post_process_masks`` per mask, pycocotools on a full-size Fortran copy), tile
         images PNG-encoded at zlib level 6, one row thread

The four run in turn ``--repeats`` times and the fastest of each counts. It reports images/s and
instances/s, the overhead per instance outside SAM ((build - sam) / instances), build/sam and
naive/build, one_thread/build, and peak memory. A second part times one mask's post-processing for a compact mask
(what a trained SAM returns for a box) and a dense one (what a tiny random SAM returns: a
periodic pattern over half the tile), windowed and at full size, in SAM's 1024 frame. The default
model is the embedded small SAM (``samrs_hf.models.EMBEDDED_SAM``), whose masks have a trained
model's sizes; ``--masks box`` replaces the decoder's logits by the prompt boxes filled, after the
decoder ran.

    python benchmarks/build_throughput.py --json benchmarks/results_build_cpu.json    # embedded small SAM
    python benchmarks/build_throughput.py --masks box      # masks shaped like a trained SAM's
    python benchmarks/build_throughput.py --scene dense --size 1024 --objects 600 --masks box
    python benchmarks/build_throughput.py --model facebook/sam-vit-base --device cuda --dtype bf16
"""

from __future__ import annotations

import argparse
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from common import PeakMemory, machine, report
from PIL import Image, ImageDraw
from pycocotools import mask as mask_utils

from samrs_hf.dataset import schema, writer
from samrs_hf.dataset.build import BuildOptions, BuildSummary, build_subset, plan_tiles
from samrs_hf.dataset.subsets import get_subset
from samrs_hf.experiments.synthetic import HEIGHT, WIDTH, make_scene
from samrs_hf.geometry import polygon_area, rbox_to_polygon
from samrs_hf.labeling.labeler import SamLabeler
from samrs_hf.labeling.mask_window import MaskWindow
from samrs_hf.labeling.prompts import build_prompts
from samrs_hf.labeling.sam_frame import SamFrame
from samrs_hf.models import EMBEDDED_SAM
from samrs_hf.sources.base import object_from_polygon
from samrs_hf.sources.dota import write_dota_labels

SCENES = {
    "synthetic": "synthetic scenes tiled over {size}x{size}",
    "dense": "dense {size}x{size}, {objects} drawn boxes",
}


def dense_scene(folder: Path, size: int, objects: int, seed: int = 0) -> Path:
    """A DOTA-format scene of ``size`` x ``size`` px with ``objects`` rotated boxes: 85 % vehicles (10-40 px),
    12 % ships and planes (40-120 px), 3 % large structures (150-300 px), each drawn as a bright filled box on
    a dark smooth ground (largest first), so that a trained SAM finds an object in each."""
    rng, paint = np.random.default_rng(seed), np.random.default_rng(seed + 1)
    coarse = rng.integers(0, 255, (size // 40 + 2, size // 40 + 2, 3), dtype=np.uint8)
    ground = Image.fromarray(coarse // 2).resize((size, size), Image.Resampling.BILINEAR)
    kinds = [("small-vehicle", 10, 40, 0.85), ("ship", 40, 120, 0.12), ("harbor", 150, 300, 0.03)]
    labels, polygons = [], []
    for category, low, high, share in kinds:
        for _ in range(round(objects * share)):
            length = rng.uniform(low, high)
            width = length * rng.uniform(0.35, 0.6)
            cx, cy = rng.uniform(length, size - length, 2)
            polygon = rbox_to_polygon([cx, cy, length, width, rng.uniform(-np.pi, np.pi)])
            labels.append(object_from_polygon(category, polygon))
            polygons.append(polygon)
    draw = ImageDraw.Draw(ground)
    for polygon in sorted(polygons, key=polygon_area, reverse=True):
        draw.polygon([tuple(point) for point in polygon], fill=tuple(int(v) for v in paint.integers(150, 256, 3)))
    (folder / "images").mkdir(parents=True, exist_ok=True)
    ground.save(folder / "images" / "P0000.png")
    write_dota_labels(folder / "labelTxt" / "P0000.txt", labels)
    return folder


def synthetic_mosaic(folder: Path, size: int, seed: int = 0) -> Path:
    """A DOTA-format scene of ``size`` x ``size`` px tiled with the synthetic scenes the embedded small SAM was
    trained on (:func:`~samrs_hf.experiments.synthetic.make_scene`, seeds ``seed, seed + 1, ...``), keeping the
    objects wholly inside: a scene where a trained model's masks fit their objects."""
    canvas, labels = Image.new("RGB", (size, size)), []
    origins = [(x, y) for y in range(0, size, HEIGHT) for x in range(0, size, WIDTH)]
    for number, (x, y) in enumerate(origins):
        scene = make_scene(seed + number)
        canvas.paste(scene.image, (x, y))
        for obj in scene.objects:
            polygon = obj.polygon + (x, y)
            if polygon.min() >= 0 and polygon.max() <= size:
                labels.append(object_from_polygon(obj.category, polygon))
    (folder / "images").mkdir(parents=True, exist_ok=True)
    canvas.save(folder / "images" / "P0000.png")
    write_dota_labels(folder / "labelTxt" / "P0000.txt", labels)
    return folder


def sam_alone(labeler: SamLabeler, options: BuildOptions) -> tuple[float, int]:
    """Seconds of encoder + decoder calls over every planned tile, on the build's own prompts; and the prompts."""
    recipe = get_subset(options.subset)
    tiles = plan_tiles(recipe, options, BuildSummary())
    work, step = [], labeler.prompt_batch_size
    for planned in tiles:
        image = planned.tile.scene.read().crop(planned.tile.box)
        prompts = build_prompts(recipe.prompt, planned.tile.objects, (image.height, image.width), labeler.frame)
        work.append((image, [prompts.chunk(start, start + step) for start in range(0, len(prompts), step)]))
    start = time.perf_counter()
    for image, chunks in work:
        encoding = labeler.encode(image)
        for inputs in chunks:
            labeler.decode(encoding, inputs)
    return time.perf_counter() - start, sum(len(p.tile.objects) for p in tiles)


def timed_build(labeler: SamLabeler, options: BuildOptions, memory: PeakMemory) -> tuple[float, BuildSummary]:
    start = time.perf_counter()
    with memory.measure():
        summary = build_subset(options, labeler)
    return time.perf_counter() - start, summary


def full_size_rle(mask: np.ndarray) -> dict:
    """The way before: pycocotools over a Fortran-ordered copy of the whole tile's mask."""
    counts = mask_utils.encode(np.asfortranarray(mask, dtype=np.uint8))["counts"]
    return {"size": list(mask.shape), "counts": counts.decode("ascii")}


@contextmanager
def the_way_before():
    """For the duration of the block, the build before windowing: every mask upscaled at full tile size
    (one ``post_process_masks`` per mask), RLE-encoded by pycocotools from a full-size copy, and tile
    images PNG-encoded at PIL's default zlib level."""
    windows, rle, level = SamFrame.windows, MaskWindow.rle, schema.IMAGE_COMPRESS_LEVEL
    SamFrame.windows = lambda self, low, size: [MaskWindow(0, 0, self.upscale(m, size), size) for m in low]
    MaskWindow.rle = lambda self: full_size_rle(self.full())
    schema.IMAGE_COMPRESS_LEVEL = 6
    try:
        with one_row_thread():
            yield
    finally:
        SamFrame.windows, MaskWindow.rle, schema.IMAGE_COMPRESS_LEVEL = windows, rle, level


@contextmanager
def one_row_thread():
    """For the duration of the block, the writer builds one row at a time (as before row threads)."""
    default = writer.default_row_threads
    writer.default_row_threads = lambda processes: 1
    try:
        yield
    finally:
        writer.default_row_threads = default


@contextmanager
def box_shaped_masks(enabled: bool):
    """With ``enabled``, for the block: the decoder runs as usual, then its logits are replaced by the prompt
    box filled (+8 inside, -8 outside, in the mask grid), i.e. masks shaped like a trained SAM's answer to a
    box prompt at the same SAM cost (the tiny random SAM's own masks are periodic patterns over half the tile)."""
    masks = SamLabeler._masks

    def boxed(self: SamLabeler, encoding, inputs: dict, decoding) -> tuple[torch.Tensor, torch.Tensor]:
        low_res, score = masks(self, encoding, inputs, decoding)
        scale = torch.tensor(self.frame.mask_size * 2, dtype=torch.float64) / torch.tensor(self.frame.pad_size * 2)
        rows, cols = (torch.arange(n, dtype=torch.float64) + 0.5 for n in self.frame.mask_size)
        filled = []
        for x0, y0, x1, y1 in (inputs["input_boxes"][:, 0] * scale[[1, 0, 1, 0]]).tolist():
            inside = ((rows >= y0) & (rows <= y1))[:, None] & ((cols >= x0) & (cols <= x1))[None]
            filled.append(torch.where(inside, 8.0, -8.0))
        return torch.stack(filled).to(low_res.device), score

    if enabled:
        SamLabeler._masks = boxed
    try:
        yield
    finally:
        SamLabeler._masks = masks


def per_mask(frame: SamFrame, repeats: int = 20) -> dict:
    """Milliseconds to turn one 256x256 logit map into a mask window + RLE on a 1024 tile, compact and dense."""
    yy, xx = np.mgrid[0:256, 0:256]
    maps = {
        "compact (20x10 px object)": torch.from_numpy(np.where((abs(yy - 120) < 2) & (abs(xx - 80) < 3), 5.0, -8.0)),
        "dense (periodic, half the tile)": torch.from_numpy(np.sin(xx * 1.3 + yy * 0.7) * 3).float(),
    }
    out = {}
    for name, low in maps.items():
        low = low.float()
        for way, fn in {
            "windowed": lambda low=low: frame.windows(low[None], (1024, 1024))[0].rle(),
            "full size": lambda low=low: full_size_rle(frame.upscale(low, (1024, 1024))),
        }.items():
            fn()
            start = time.perf_counter()
            for _ in range(repeats):
                fn()
            out[f"{name}, {way}"] = 1000 * (time.perf_counter() - start) / repeats
    return out


def run(args: argparse.Namespace) -> dict:
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = args.model or str(EMBEDDED_SAM)
        if args.root:
            root = Path(args.root)
        elif args.scene == "dense":
            root = dense_scene(tmp / "raw", args.size, args.objects)
        else:
            root = synthetic_mosaic(tmp / "raw", args.size)
        labeler = SamLabeler(model, device, args.dtype, args.prompt_batch_size)
        memory = PeakMemory(device)

        def options(out: str) -> BuildOptions:
            return BuildOptions("sota", root, tmp / out, model=model, splits=(args.split,), device=str(device))

        times: dict[str, list[float]] = {"sam": [], "build": [], "one_thread": [], "naive": []}
        build_peak, build_start = 0.0, 0.0
        with box_shaped_masks(args.masks == "box"):
            for repeat in range(args.repeats):  # interleaved, so a burst of load hits one repeat, not one way
                seconds, prompts = sam_alone(labeler, options("unused"))
                times["sam"].append(seconds)
                seconds, summary = timed_build(labeler, options(f"built-{repeat}"), memory)
                times["build"].append(seconds)
                build_peak, build_start = max(build_peak, memory.peak_mib), memory.start_mib
                with one_row_thread():
                    times["one_thread"].append(timed_build(labeler, options(f"one-thread-{repeat}"), memory)[0])
                with the_way_before():
                    times["naive"].append(timed_build(labeler, options(f"naive-{repeat}"), memory)[0])
        sam_seconds, build_seconds, one_thread_seconds, naive_seconds = (min(seconds) for seconds in times.values())
        instances = summary.instances + summary.dropped.get("labeling: empty mask", 0)
        result = {
            "machine": machine(device),
            "settings": {
                "model": args.model or "embedded small SAM",
                "scene": args.root or SCENES[args.scene].format(size=args.size, objects=args.objects),
                "masks": {"model": "the model's own", "box": "the prompt box filled (box_shaped_masks)"}[args.masks],
                "tiles": summary.tiles,
                "prompts": prompts,
                "prompt_batch_size": labeler.prompt_batch_size,
                "row_threads": writer.default_row_threads(1),
                "dtype": str(labeler.dtype),
            },
            "repeats": args.repeats,
            "sam_seconds": sam_seconds,
            "build_seconds": build_seconds,
            "one_row_thread_build_seconds": one_thread_seconds,
            "naive_build_seconds": naive_seconds,
            "images_per_s": summary.written / build_seconds,
            "instances_per_s": summary.instances / build_seconds,
            "overhead_ms_per_instance": 1000 * (build_seconds - sam_seconds) / instances,
            "naive_overhead_ms_per_instance": 1000 * (naive_seconds - sam_seconds) / instances,
            "build_over_sam": build_seconds / sam_seconds,
            "naive_over_build": naive_seconds / build_seconds,
            "one_row_thread_over_build": one_thread_seconds / build_seconds,
            "peak_memory_mib": build_peak,
            "memory_before_build_mib": build_start,
            "per_mask_ms": per_mask(SamFrame()),
        }
    return result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", help="a DOTA-format folder to build (default: a synthetic --scene)")
    parser.add_argument("--scene", choices=sorted(SCENES), default="synthetic", help="the scene made without --root")
    parser.add_argument("--split", default="all", help="source split of --root (default: all)")
    parser.add_argument("--size", type=int, default=1848, help="synthetic scene side (default: 4 tiles)")
    parser.add_argument("--objects", type=int, default=500, help="objects of the dense scene")
    parser.add_argument("--model", help="SAM checkpoint (default: the embedded small SAM)")
    parser.add_argument(
        "--masks", choices=["model", "box"], default="model", help="box: masks shaped like a trained SAM's"
    )
    parser.add_argument("--device", default=None)
    parser.add_argument("--dtype", default=None)
    parser.add_argument("--prompt-batch-size", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats; the fastest counts")
    parser.add_argument("--json", help="write the result here")
    args = parser.parse_args(argv)
    result = run(args)
    return report(result, args.json)


if __name__ == "__main__":
    main()
