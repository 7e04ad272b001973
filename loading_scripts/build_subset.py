"""Build one SAMRS subset with the paper's settings (SAMRS Sec. 2.5) and SAM ViT-H.

    python loading_scripts/build_subset.py fast FAIR1M-2.0 samrs              # then load_dataset("./samrs", "fast")
    accelerate launch loading_scripts/build_subset.py fast FAIR1M-2.0 samrs   # the tiles split over several GPUs

SUBSET is one of the paper's recipes (``samrs_hf.dataset.SUBSETS``: source reader, splits, tiling, prompt,
classes in the release's order); ROOT is the raw dataset folder as that source's reader expects it
(``samrs_hf.sources``). ``samrs build SUBSET --root ROOT --out OUT`` does the same with more options.

This folder's name comes from ``datasets``' loading scripts, the Python files that once turned raw
files into a dataset inside ``load_dataset``. ``datasets`` 5 no longer runs them, so a SAMRS subset
is a folder of Parquet shards and a card instead, and this recipe is what writes that folder.
"""

import argparse

from accelerate import PartialState

from samrs_hf.dataset import SUBSETS, BuildOptions, build_subset

recipes = "; ".join(
    f"{name}: {recipe.source} {'+'.join(recipe.splits)}, {recipe.prompt} prompts" for name, recipe in SUBSETS.items()
)
parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=f"Subsets: {recipes}.")
parser.add_argument("subset", choices=list(SUBSETS), help="the subset to build")
parser.add_argument("root", help="raw dataset folder")
parser.add_argument("out", help="SAMRS dataset folder to write (or resume)")
parser.add_argument("--model", default="facebook/sam-vit-huge", help="SAM checkpoint (default: the paper's)")
args = parser.parse_args()

summary = build_subset(BuildOptions(args.subset, args.root, args.out, model=args.model))
if PartialState().is_main_process:
    print(summary.format())
