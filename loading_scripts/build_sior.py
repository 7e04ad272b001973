"""SIOR: all of DIOR (train, val, test) at 800x800 as is, hbox prompts, ViT-H SAM (SAMRS Sec. 2.5).

Expects ROOT/JPEGImages-{trainval,test}, ROOT/Annotations/Horizontal Bounding Boxes and
ROOT/ImageSets/Main/{train,val,test}.txt. Example:

    python loading_scripts/build_sior.py --root DIOR --out samrs --model facebook/sam-vit-huge

The settings (splits, tiling, prompt, classes) are those of `samrs_hf.subsets.SUBSETS["sior"]`;
`accelerate launch loading_scripts/build_sior.py ...` spreads the tiles over several GPUs.
Then: `load_dataset("samrs", "sior")` from the folder above `samrs`.
"""

import argparse
import sys

from samrs_hf.commands.build import add_build_arguments, run_build

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_build_arguments(parser)
    sys.exit(run_build("sior", parser.parse_args()))
