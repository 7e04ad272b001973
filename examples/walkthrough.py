"""A notebook-style walkthrough: detection boxes -> SAM masks -> a Hugging Face dataset -> figures.

Run it as a script (each ``# %%`` cell also runs in Jupyter / VS Code)::

    python examples/walkthrough.py --model facebook/sam-vit-base --out walkthrough_out
    python examples/walkthrough.py --model PATH --out walkthrough_out   # offline: a local SAM folder

It draws two synthetic overhead scenes, writes them as a DOTA-format detection dataset, builds
the SOTA subset from them with SAM, loads it back with ``datasets``, and writes statistics,
label overlays and a COCO export.
"""

# %% Arguments
import argparse
from pathlib import Path

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--model", default="facebook/sam-vit-base", help="SAM Hub id or local folder")
parser.add_argument("--out", default="walkthrough_out", type=Path)
args = parser.parse_args()

# %% 1. A detection dataset in DOTA format (two synthetic scenes with oriented boxes)
from samrs_hf.experiments.synthetic import make_scene, write_dota_scene

raw = args.out / "raw"
for seed in (0, 1):
    write_dota_scene(raw, make_scene(seed=seed, image_id=f"P{seed:04d}"))
print(sorted(p.name for p in (raw / "labelTxt").iterdir()))

# %% 2. Label every box with SAM and write the SOTA subset (Parquet shards + dataset card)
from samrs_hf.dataset import BuildOptions, build_subset

dataset_dir = args.out / "samrs"
summary = build_subset(BuildOptions("sota", raw, dataset_dir, model=args.model, splits=("all",)))
print(summary.format())

# %% 3. Load it like any Hugging Face dataset
from datasets import load_dataset

sota = load_dataset(str(dataset_dir), "sota", split="train")
row = sota[0]
names = sota.features["objects"].feature["category"].names
print(row["image_id"], row["image"].size, len(row["objects"]), "objects")
print([names[obj["category"]] for obj in row["objects"]][:8])

# %% 4. Statistics (paper Figs. 5-6), overlays (Fig. 4) and a COCO export
import numpy as np

from samrs_hf.dataset import OverlayPanel, compute_stats, save_overlay_grid, save_stats, write_coco

figures = args.out / "figures"
print(save_stats(compute_stats(sota), figures, "sota"))
panels = [OverlayPanel(r["image_id"], r["image"], np.asarray(r["semantic_map"])) for r in sota]
print(save_overlay_grid(panels, figures / "sota_overlays.png", names, ncols=2))
print(write_coco(sota, args.out / "sota_train_coco.json"))
