"""FAST: FAIR1M-2.0 train+validation -> 600x600 tiles (stride 500), rhbox prompts, ViT-H SAM (SAMRS Sec. 2.5).

Expects ROOT/{train,validation}/{images,labelXml}. Example:

    python loading_scripts/build_fast.py --root FAIR1M-2.0 --out samrs --model facebook/sam-vit-huge

The settings (splits, tiling, prompt, classes) are those of `samrs_hf.subsets.SUBSETS["fast"]`;
`accelerate launch loading_scripts/build_fast.py ...` spreads the tiles over several GPUs.
Then: `load_dataset("samrs", "fast")` from the folder above `samrs`.
"""

import argparse
import sys

from samrs_hf.commands.build import add_build_arguments, run_build

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_build_arguments(parser)
    sys.exit(run_build("fast", parser.parse_args()))
