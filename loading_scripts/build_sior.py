"""SIOR: all of DIOR (train, val, test) at 800x800 as is, hbox prompts, ViT-H SAM (SAMRS Sec. 2.5).

Expects ROOT/JPEGImages-{trainval,test}, ROOT/Annotations/Horizontal Bounding Boxes and
ROOT/ImageSets/Main/{train,val,test}.txt.

    python loading_scripts/build_sior.py DIOR samrs            # then load_dataset("./samrs", "sior")
    accelerate launch loading_scripts/build_sior.py DIOR samrs # the tiles split over several GPUs

This folder's name comes from ``datasets``' loading scripts, the Python files that once turned raw
files into a dataset inside ``load_dataset``. ``datasets`` 5 no longer runs them, so a SAMRS subset
is a folder of Parquet shards and a card instead, and this recipe is what writes that folder: the
paper's settings for the subset (``samrs_hf.dataset.SUBSETS["sior"]``: splits, tiling, prompt,
classes) with SAM ViT-H. ``samrs build sior --root ... --out ...`` does the same with more options.
"""

import argparse

from accelerate import PartialState

from samrs_hf.dataset import BuildOptions, build_subset

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("root", help="raw dataset folder")
parser.add_argument("out", help="SAMRS dataset folder to write (or resume)")
parser.add_argument("--model", default="facebook/sam-vit-huge", help="SAM checkpoint (default: the paper's)")
args = parser.parse_args()

summary = build_subset(BuildOptions("sior", args.root, args.out, model=args.model))
if PartialState().is_main_process:
    print(summary.format())
