"""The whole labelling pipeline on a synthetic scene whose true masks are known (``samrs demo``).

Draws the scene (:mod:`samrs_hf.experiments.synthetic`), writes it in DOTA format under
``OUT/raw``, reads it back with the DOTA reader, labels it with SAM from the chosen prompt into
the SOTA label order (DOTA classes), and writes

* ``label.png``: the semantic map (mode L, SAMRS SOTA class indices, 255 = not covered; an index
  map, so it looks black in an image viewer),
* ``label_color.png``: the same map in the class colours of the figures (255 black), with a legend,
* ``overlay.png``: prompts, SAM's labels and the true labels side by side, with a legend,
* ``metrics.json``: mIoU_I / mIoU_P in percent of SAM's masks against the drawn masks (all and per class).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from samrs_hf.dataset.subsets import get_subset
from samrs_hf.dataset.viz import OverlayPanel, draw_polygons, save_overlay_grid
from samrs_hf.experiments.synthetic import make_scene, write_dota_scene
from samrs_hf.labeling.labeler import SamLabeler
from samrs_hf.labeling.maps import LabelMapBuilder
from samrs_hf.labeling.prompts import PromptSpec
from samrs_hf.metrics.instance import InstanceIoU
from samrs_hf.sources.dota import DOTA

__all__ = ["run_demo"]

SUBSET = "sota"  # DOTA-format input -> the SOTA label order


def run_demo(out: Path, labeler: SamLabeler, prompt: str | PromptSpec = "hbox", seed: int = 0) -> dict:
    """Make, write, read back and label the scene; write ``label.png``, ``overlay.png`` and
    ``metrics.json`` to ``out``; return the metrics."""
    out = Path(out)
    spec = PromptSpec.parse(prompt)
    recipe = get_subset(SUBSET)
    scene = make_scene(seed)
    record = DOTA(write_dota_scene(out / "raw", scene)).load(scene.image_id)
    if len(record.objects) != len(scene.objects):
        raise ValueError(f"DOTA reader returned {len(record.objects)} objects for {len(scene.objects)} drawn")
    image = record.read()
    maps = LabelMapBuilder(image.height, image.width, recipe.classes, recipe.release_name)
    overall, per_class = InstanceIoU(), {}
    labeled = labeler.label_objects(image, record.objects, spec)
    for result in tqdm(labeled, total=len(record.objects), desc="labelling", unit="object"):
        maps.add(result)
        truth = scene.objects[result.index].mask
        overall.update(result.mask, truth)
        per_class.setdefault(result.object.category, InstanceIoU()).update(result.mask, truth)
    semantic = maps.semantic_map()
    Image.fromarray(semantic).save(out / "label.png")
    in_colour = OverlayPanel("label.png in colour (black: no mask)", np.zeros_like(np.asarray(image)), semantic)
    save_overlay_grid([in_colour], out / "label_color.png", recipe.classes, ncols=1, alpha=1.0, panel_inches=8.5)
    panels = [
        OverlayPanel("input + oriented boxes (DOTA labels)", draw_polygons(image, [o.polygon for o in record.objects])),
        OverlayPanel(f"SAM labels (prompt: {spec})", image, semantic),
        OverlayPanel("true labels (drawn masks)", image, scene.semantic_map(recipe.classes)),
    ]
    save_overlay_grid(panels, out / "overlay.png", recipe.classes, ncols=3, alpha=0.6)
    metrics = {
        "unit": "percent",
        "model": labeler.model_id,
        "prompt": str(spec),
        "seed": seed,
        **overall.as_dict(),
        "per_category": {name: meter.as_dict() for name, meter in sorted(per_class.items())},
        "dropped": dict(maps.dropped),
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    return metrics
