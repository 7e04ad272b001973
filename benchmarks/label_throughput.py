"""Labelling throughput and memory: SamLabeler against the naive ways of calling transformers' SAM.

SAM has the real ViT-B architecture (``facebook/sam-vit-base`` sizes) with random weights: the
cost does not depend on the weight values. Each image (random pixels, 1024x1024 by default) is
labelled with N random boxes, for each N in ``--boxes``, four ways:

  a  SamLabeler: one encoding per image, prompts decoded in chunks, masks streamed
     (``a@CHUNK``: ``prompt_batch_size=CHUNK``; its default is 1 on a CPU, 64 elsewhere)
  b  naive, as in the transformers docs: SamProcessor + SamModel per box with the pixel values
     (the image is re-encoded for every box). Measured on ``--naive-boxes`` boxes and
     extrapolated linearly per box (the per-box cost is one full encoding + one decoding).
  c  one encoding per image, one box per decoder call (+ post_process_masks)
  d  the image encoder alone (processor + get_image_embeddings): the lower bound

"ms / prompt" is decoding and post-processing per prompt: a way's time less its encodings (d's time
once per image; b encodes once per box), over the boxes. Run ``python benchmarks/label_throughput.py
--help`` for options; results go to JSON and a Markdown table on stdout (``--rederive JSON``: the
derived columns of an earlier run recomputed from its timings, and its table).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import torch
from common import PeakMemory, machine
from PIL import Image
from transformers import SamConfig

from samrs_hf.experiments.tiny_sam import VIT_BASE_VISION, save_sam
from samrs_hf.labeling.backends import BACKENDS
from samrs_hf.labeling.labeler import SamLabeler
from samrs_hf.records import SourceObject

DTYPES = {"float32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def random_boxes(rng: np.random.Generator, n: int, size: int) -> list[SourceObject]:
    """``n`` boxes of 8..160 px sides (at most half the image) inside a ``size`` x ``size`` image."""
    wh = rng.uniform(8, min(160, size / 2), (n, 2))
    xy = rng.uniform(0, size - wh)
    return [SourceObject("object", np.r_[p, p + s]) for p, s in zip(xy, wh)]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Ways:
    """The four ways of labelling one image; each returns an iterable of the masks (none for d)."""

    def __init__(self, path: Path, device: torch.device, dtype: torch.dtype, compile: bool | str = False):
        self.labeler = SamLabeler(str(path), device=device, dtype=dtype, compile=compile)
        self.model, self.device, self.dtype = self.labeler.model, device, dtype

    @property
    def processor(self):
        """SAM's processor (ways b, c, d; way a alone also runs SAM 2, whose backend has none)."""
        return self.labeler.backend.processor

    def run(self, way: str, image, objects) -> Iterable[np.ndarray]:
        """``way`` is ``b``, ``c``, ``d`` or ``a@CHUNK`` (the labeler with ``prompt_batch_size=CHUNK``)."""
        name, _, chunk = way.partition("@")
        if name == "a":
            self.labeler.prompt_batch_size = int(chunk)
        return getattr(self, name)(image, objects)

    def a(self, image, objects) -> Iterator[np.ndarray]:
        return (m.mask for m in self.labeler.label_objects(image, objects, prompt="hbox"))

    @torch.inference_mode()
    def b(self, image, objects) -> Iterator[np.ndarray]:
        for obj in objects:
            inputs = self.processor(images=image, input_boxes=[[obj.hbox.tolist()]], return_tensors="pt")
            out = self.model(
                pixel_values=inputs["pixel_values"].to(self.device, self.dtype),
                input_boxes=inputs["input_boxes"].to(self.device),
                multimask_output=False,
            )
            masks = self.processor.post_process_masks(
                out.pred_masks.float().cpu(),
                inputs["original_sizes"],
                inputs["reshaped_input_sizes"],
            )
            yield masks[0][0, 0].numpy()

    @torch.inference_mode()
    def c(self, image, objects) -> Iterator[np.ndarray]:
        inputs = self.processor(
            images=image,
            input_boxes=[[o.hbox.tolist() for o in objects]],
            return_tensors="pt",
        )
        embeddings = self.model.get_image_embeddings(inputs["pixel_values"].to(self.device, self.dtype))
        for i in range(len(objects)):
            out = self.model(
                image_embeddings=embeddings,
                input_boxes=inputs["input_boxes"][:, i : i + 1].to(self.device),
                multimask_output=False,
            )
            masks = self.processor.post_process_masks(
                out.pred_masks.float().cpu(),
                inputs["original_sizes"],
                inputs["reshaped_input_sizes"],
            )
            yield masks[0][0, 0].numpy()

    @torch.inference_mode()
    def d(self, image, objects) -> list:
        inputs = self.processor(images=image, return_tensors="pt")
        self.model.get_image_embeddings(inputs["pixel_values"].to(self.device, self.dtype))
        return []


def time_way(ways: Ways, way: str, images, objects, measured: int, memory: PeakMemory) -> tuple[float, float]:
    """Mean seconds per image (over ``images``) for the first ``measured`` objects, and peak memory (MiB)."""
    seconds = []
    with memory.measure():
        for image in images:
            sync(ways.device)
            start = time.perf_counter()
            for _ in ways.run(way, image, objects[:measured]):  # consume: masks are made lazily
                pass
            sync(ways.device)
            seconds.append(time.perf_counter() - start)
    return float(np.mean(seconds)), memory.peak_mib


def agreement(ways: Ways, way: str, image, objects) -> dict:
    """How far a labeler way's masks are from one box per call (c): differing masks and pixels."""
    pairs = zip(ways.run(way, image, objects), ways.c(image, objects))
    differing = [int((x != y).sum()) for x, y in pairs]
    return {
        "way": way,
        "masks": len(differing),
        "differing_masks": sum(d > 0 for d in differing),
        "differing_pixels": sum(differing),
        "pixels": len(differing) * image.width * image.height,
    }


def run(args: argparse.Namespace) -> dict:
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    dtype = DTYPES[args.dtype]
    rng = np.random.default_rng(0)
    images = [
        Image.fromarray(rng.integers(0, 256, (args.size, args.size, 3), dtype=np.uint8)) for _ in range(args.images)
    ]
    config = BACKENDS["sam"].tiny_config() if args.quick else SamConfig(vision_config=VIT_BASE_VISION)
    with tempfile.TemporaryDirectory() as tmp:
        ways = Ways(save_sam(Path(tmp) / "sam", config), device, dtype)
    labeler_ways = [f"a@{chunk}" for chunk in args.prompt_batch_size]
    memory = PeakMemory(device)
    ways.d(images[0], [])  # warm-up
    rows = []
    for n in args.boxes:
        objects = random_boxes(rng, n, args.size)
        order = ["d"] + [w for name in args.ways if name != "d" for w in (labeler_ways if name == "a" else [name])]
        timings: dict[str, list[tuple[float, float]]] = {way: [] for way in order}
        for _ in range(args.repeats):  # interleaved, so that a burst of load hits one repeat of all ways
            for way in order:
                measured = min(n, args.naive_boxes) if way == "b" else n
                timings[way].append(time_way(ways, way, images, objects, measured, memory))
        encoder = min(t for t, _ in timings["d"])
        for way in order if "d" in args.ways else order[1:]:
            measured = min(n, args.naive_boxes) if way == "b" else n
            seconds = min(t for t, _ in timings[way]) * n / measured  # b: one encoding + one decoding per box
            peak = max(p for _, p in timings[way])
            rows.append(
                {
                    "way": way,
                    "boxes": n,
                    "seconds_per_image": seconds,
                    "images_per_s": 1 / seconds,
                    "ms_per_prompt_decode_post": ms_per_prompt(way, seconds, n, encoder),
                    "peak_memory_mib": peak,
                    "measured_boxes": measured,
                    "extrapolated": measured < n,
                }
            )
            print(
                f"{way:5s} {n:4d} boxes: {seconds:8.2f} s/image  peak {peak:7.0f} MiB"
                + (f"  (measured {measured} boxes, extrapolated)" if measured < n else ""),
                flush=True,
            )
    agree = (
        [agreement(ways, way, images[0], random_boxes(rng, args.agreement_boxes, args.size)) for way in labeler_ways]
        if {"a", "c"} <= set(args.ways)
        else []
    )
    print(f"masks vs c: {agree}", flush=True)
    return {
        "agreement_with_c": agree,
        "machine": machine(device),
        "settings": dict(
            vars(args),
            model="tiny random SAM" if args.quick else "SAM ViT-B sizes, random weights",
            dtype=str(dtype),
        ),
        "rows": rows,
        "ratios": ratios(rows),
    }


def ms_per_prompt(way: str, seconds: float, boxes: int, encoder: float) -> float | None:
    """Decoding and post-processing per prompt in ms: ``seconds`` less the way's encodings of ``encoder``
    seconds each (b re-encodes per box, the others once), over ``boxes``; ``None`` for the encoder alone (d)."""
    if way == "d":
        return None
    encodings = boxes if way == "b" else 1
    return 1000 * (seconds - encodings * encoder) / boxes


def rederive(result: dict) -> dict:
    """``result`` with its derived columns (ms / prompt, ratios) recomputed from its measured seconds."""
    encoder = {r["boxes"]: r["seconds_per_image"] for r in result["rows"] if r["way"] == "d"}
    for row in result["rows"]:
        row["ms_per_prompt_decode_post"] = ms_per_prompt(
            row["way"], row["seconds_per_image"], row["boxes"], encoder[row["boxes"]]
        )
    return {**result, "ratios": ratios(result["rows"])}


def ratios(rows: list[dict]) -> list[dict]:
    """Per box count and labeler way: how many times faster it is than b and c; its time over d's."""
    out = []
    for n in sorted({r["boxes"] for r in rows}):
        t = {r["way"]: r["seconds_per_image"] for r in rows if r["boxes"] == n}
        for a in (w for w in t if w.startswith("a@")):
            out.append(
                dict(
                    boxes=n,
                    way=a,
                    **{f"{w}/a": t[w] / t[a] for w in ("b", "c") if w in t},
                    **({"a/d": t[a] / t["d"]} if "d" in t else {}),
                )
            )
    return out


def markdown(result: dict) -> str:
    lines = [
        "| way | boxes | s / image | images / s | ms / prompt (decode + post) | peak memory (MiB) | note |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in result["rows"]:
        ms = "" if r["ms_per_prompt_decode_post"] is None else f"{r['ms_per_prompt_decode_post']:.1f}"
        note = f"extrapolated from {r['measured_boxes']} boxes" if r["extrapolated"] else ""
        lines.append(
            f"| {r['way']} | {r['boxes']} | {r['seconds_per_image']:.2f} | {r['images_per_s']:.4f} | {ms} "
            f"| {r['peak_memory_mib']:.0f} | {note} |"
        )
    lines += [
        "",
        (
            "| boxes | labeler | b / a (speed-up over naive) | c / a (over one box per call) "
            "| a / d (time over encoder alone) |"
        ),
        "|---:|---|---:|---:|---:|",
    ]
    for r in result["ratios"]:
        cells = [f"{r[k]:.2f}" if k in r else "" for k in ("b/a", "c/a", "a/d")]
        lines.append(f"| {r['boxes']} | {r['way']} | " + " | ".join(cells) + " |")
    for agree in result["agreement_with_c"]:
        lines.append(
            f"\nMasks {agree['way']} vs c on {agree['masks']} boxes: {agree['differing_masks']} masks differ, "
            f"{agree['differing_pixels']} of {agree['pixels']} pixels."
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--boxes", type=int, nargs="+", default=[1, 20, 100, 600])
    parser.add_argument("--ways", nargs="+", default=["a", "b", "c", "d"], choices=["a", "b", "c", "d"])
    parser.add_argument(
        "--images",
        type=int,
        default=1,
        help="images per setting (times are means over them)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=2,
        help="interleaved repeats; the fastest is kept",
    )
    parser.add_argument("--size", type=int, default=1024, help="image side in pixels")
    parser.add_argument("--naive-boxes", type=int, default=2, help="boxes actually run for way b")
    parser.add_argument(
        "--agreement-boxes",
        type=int,
        default=20,
        help="boxes compared mask for mask, a vs c",
    )
    parser.add_argument(
        "--prompt-batch-size",
        type=int,
        nargs="+",
        default=[64, 4, 1],
        help="labeler chunk sizes to time (way a@CHUNK for each)",
    )
    parser.add_argument("--device", default=None, help="default: cuda if available, else cpu")
    parser.add_argument("--dtype", default="float32", choices=list(DTYPES))
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny random SAM instead of ViT-B (smoke test)",
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results.json"))
    parser.add_argument(
        "--rederive", type=Path, default=None, metavar="JSON", help="recompute an earlier run's derived columns"
    )
    args = parser.parse_args(argv)
    if args.rederive:
        result, args.out = rederive(json.loads(args.rederive.read_text())), args.rederive
    else:
        result = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str))
    print(markdown(result))


if __name__ == "__main__":
    main()
