"""SOTA: DOTA-v2.0 train+val -> 1024x1024 tiles (stride 824), hbox prompts, ViT-H SAM (SAMRS Sec. 2.5).

Expects ROOT/{train,val}/{images,labelTxt}. Example:

    python loading_scripts/build_sota.py --root DOTA-v2.0 --out samrs --model facebook/sam-vit-huge

The settings (splits, tiling, prompt, classes) are those of `samrs_hf.subsets.SUBSETS["sota"]`;
`accelerate launch loading_scripts/build_sota.py ...` spreads the tiles over several GPUs.
Then: `load_dataset("samrs", "sota")` from the folder above `samrs`.
"""

import argparse
import sys

from samrs_hf.commands.build import add_build_arguments, run_build

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_build_arguments(parser)
    sys.exit(run_build("sota", parser.parse_args()))
