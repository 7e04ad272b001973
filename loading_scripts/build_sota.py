"""SOTA: DOTA-v2.0 train+val -> 1024x1024 tiles (stride 824), hbox prompts, ViT-H SAM (SAMRS Sec. 2.5).

Expects ROOT/{train,val}/{images,labelTxt}.

    python loading_scripts/build_sota.py DOTA-v2.0 samrs            # then load_dataset("./samrs", "sota")
    accelerate launch loading_scripts/build_sota.py DOTA-v2.0 samrs # the tiles split over several GPUs

This folder's name comes from ``datasets``' loading scripts, the Python files that once turned raw
files into a dataset inside ``load_dataset``. ``datasets`` 5 no longer runs them, so a SAMRS subset
is a folder of Parquet shards and a card instead, and this recipe is what writes that folder: the
paper's settings for the subset (``samrs_hf.dataset.SUBSETS["sota"]``: splits, tiling, prompt,
classes) with SAM ViT-H. ``samrs build sota --root ... --out ...`` does the same with more options.
"""

import argparse

from accelerate import PartialState

from samrs_hf.dataset import BuildOptions, build_subset

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("root", help="raw dataset folder")
parser.add_argument("out", help="SAMRS dataset folder to write (or resume)")
parser.add_argument("--model", default="facebook/sam-vit-huge", help="SAM checkpoint (default: the paper's)")
args = parser.parse_args()

summary = build_subset(BuildOptions("sota", args.root, args.out, model=args.model))
if PartialState().is_main_process:
    print(summary.format())
