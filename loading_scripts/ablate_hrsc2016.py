"""The paper's prompt ablation (SAMRS Table 1) with its exact setting.

SAM ViT-H (``facebook/sam-vit-huge``), the HRSC2016 test images that have pixel masks (124 in
the release), the 15 Table-1 rows in the paper's order; each image is encoded once. Writes
``ablation.md`` and ``ablation.json`` (mIoU_I, mIoU_P, instances, and the paper's figures beside ours).

    python loading_scripts/ablate_hrsc2016.py /data/HRSC2016 runs/ablation_hrsc2016

This folder's name comes from ``datasets``' loading scripts (see ``build_subset.py``); this recipe
runs the paper's ablation through the public API, as ``samrs ablate --prompts paper`` does.
"""

import argparse

from samrs_hf.experiments.ablation import ablation_image_ids, parse_rows, run_ablation, write_ablation
from samrs_hf.labeling import SamLabeler
from samrs_hf.sources import HRSC2016

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("root", help="HRSC2016 folder (FullDataSet/ or AllImages/ + Annotations/ + Segmentations/)")
parser.add_argument("out", help="output folder")
parser.add_argument("--model", default="facebook/sam-vit-huge", help="SAM checkpoint (default: the paper's)")
args = parser.parse_args()

source = HRSC2016(args.root)
image_ids = ablation_image_ids(source, "test")
results = {args.model: run_ablation(source, SamLabeler(args.model), parse_rows("paper"), image_ids)}
meta = {"models": args.model, "dataset": "HRSC2016 test", "images": len(image_ids)}
markdown, _ = write_ablation(args.out, results, meta)
print(markdown.read_text(encoding="utf-8"))
