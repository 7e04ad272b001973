"""``samrs demo``: the whole pipeline on a synthetic scene whose true masks are known.

Draws the scene (:mod:`samrs_hf.synthetic`), writes it in DOTA format under ``OUT/raw``, reads
it back with the DOTA reader, labels it with SAM from the chosen prompt, and writes

* ``label.png``: the semantic map (mode L, SAMRS SOTA class indices, 255 = not covered),
* ``overlay.png``: prompts, SAM's labels and the true labels side by side, with a legend,
* ``metrics.json``: mIoU_I / mIoU_P of SAM's masks against the drawn masks (all and per class).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from samrs_hf.commands import add_sam_arguments

if TYPE_CHECKING:  # heavy imports stay out of `samrs --help`
    from samrs_hf.labeler import SamLabeler
    from samrs_hf.prompts import PromptSpec

DEFAULT_MODEL = "facebook/sam-vit-base"
SUBSET = "sota"  # DOTA-format input -> the SOTA label order


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="label a synthetic scene with SAM and score it against its known masks",
        description="Draw a synthetic overhead scene (ships, harbor, planes, storage tanks), write it in DOTA "
        "format, label it with SAM and write label.png, overlay.png and metrics.json (mIoU_I / mIoU_P).",
    )
    parser.add_argument("--out", required=True, help="output folder")
    add_sam_arguments(parser, DEFAULT_MODEL)
    parser.add_argument("--prompt", default="hbox", help="prompt kinds, e.g. hbox, rhbox, cp+hbox (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="scene seed (default: %(default)s)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from samrs_hf.labeler import SamLabeler
    from samrs_hf.prompts import PromptSpec

    spec = PromptSpec.parse(args.prompt)
    labeler = SamLabeler(args.model, device=args.device, dtype=args.dtype, prompt_batch_size=args.prompt_batch_size)
    metrics = run_demo(Path(args.out), labeler, spec, args.seed)
    metrics["model"] = str(args.model)
    (Path(args.out) / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    print(
        f"mIoU_I {metrics['mIoU_I']:.2f}  mIoU_P {metrics['mIoU_P']:.2f}  "
        f"({metrics['instances']} objects, prompt {spec}, model {args.model})"
    )
    print(f"wrote {args.out}/label.png, overlay.png, metrics.json (scene in DOTA format under {args.out}/raw)")
    return 0


def run_demo(out: Path, labeler: SamLabeler, spec: PromptSpec, seed: int) -> dict:
    """Make, write, read back and label the scene; write ``label.png`` and ``overlay.png``; return the metrics."""
    from PIL import Image
    from tqdm.auto import tqdm

    from samrs_hf.classes import SAMRS_RELEASE_CLASSES, release_index
    from samrs_hf.maps import LabelMapBuilder
    from samrs_hf.metrics import InstanceIoU
    from samrs_hf.prompts import build_prompts
    from samrs_hf.sources.dota import DOTA
    from samrs_hf.synthetic import make_scene, write_dota_scene

    scene = make_scene(seed)
    record = DOTA(write_dota_scene(out / "raw", scene)).load(scene.image_id)
    if len(record.objects) != len(scene.objects):
        raise ValueError(f"DOTA reader returned {len(record.objects)} objects for {len(scene.objects)} drawn")
    image = record.read()
    prompts = build_prompts(spec, record.objects, (image.height, image.width), labeler.processor)
    classes = SAMRS_RELEASE_CLASSES[SUBSET]
    maps = LabelMapBuilder(image.height, image.width, num_classes=len(classes))
    overall, per_class = InstanceIoU(), {}
    masks = labeler.label_prompts(image, prompts)
    for result in tqdm(masks, total=len(prompts), desc="labelling", unit="object"):
        obj = record.objects[result.index]
        maps.add(result.index, result.mask, release_index(SUBSET, obj.category), result.score, obj.hbox,
                 prompts.prompt_boxes[result.index], category=obj.category, rbox=obj.rbox)
        truth = scene.objects[result.index].mask
        overall.update(result.mask, truth)
        per_class.setdefault(obj.category, InstanceIoU()).update(result.mask, truth)
    semantic = maps.semantic_map()
    Image.fromarray(semantic).save(out / "label.png")
    _save_overlay(out / "overlay.png", image, record.objects, semantic, scene.semantic_map(classes), classes, spec)
    return {
        "prompt": str(spec),
        "seed": seed,
        **overall.as_dict(),
        "per_category": {name: meter.as_dict() for name, meter in sorted(per_class.items())},
        "dropped": dict(maps.dropped),
    }


def _save_overlay(path: Path, image, objects, predicted, truth, classes, spec) -> None:
    from samrs_hf.viz import OverlayPanel, draw_polygons, save_overlay_grid

    boxes = draw_polygons(image, [o.polygon for o in objects])
    panels = [
        OverlayPanel("input + oriented boxes (DOTA labels)", boxes),
        OverlayPanel(f"SAM labels (prompt: {spec})", image, predicted),
        OverlayPanel("true labels (drawn masks)", image, truth),
    ]
    save_overlay_grid(panels, path, classes, ncols=3, alpha=0.6)
