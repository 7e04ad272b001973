"""The paper's prompt ablation (SAMRS Table 1) with its exact setting.

SAM ViT-H (``facebook/sam-vit-huge``), the HRSC2016 test images that have pixel masks (124 in
the release), every Table-1 prompt row; each image is encoded once. Writes ``ablation.md`` and
``ablation.json`` (mIoU_I, mIoU_P, instances, and the paper's figures beside ours).

    python loading_scripts/ablate_hrsc2016.py /data/HRSC2016 --out runs/ablation_hrsc2016

Equivalent to ``samrs ablate --root /data/HRSC2016 --model facebook/sam-vit-huge --prompts paper
--split test --out ...``. Half precision on a GPU: add ``--dtype bf16``.
"""

from __future__ import annotations

import argparse
import sys

from samrs_hf.cli import main

PAPER_MODEL = "facebook/sam-vit-huge"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", help="HRSC2016 folder (FullDataSet/ or AllImages/ + Annotations/ + Segmentations/, ImageSets/)")
    parser.add_argument("--out", default="runs/ablation_hrsc2016", help="output folder (default: %(default)s)")
    parser.add_argument("--model", default=PAPER_MODEL, help="SAM checkpoint (default: the paper's %(default)s)")
    parser.add_argument("--dtype", default=None, help="fp32 (default, as the paper), bf16 or fp16")
    return parser.parse_args(argv)


if __name__ == "__main__":
    args = parse_args()
    command = ["ablate", "--root", args.root, "--model", args.model, "--prompts", "paper", "--split", "test",
               "--out", args.out]
    sys.exit(main(command + (["--dtype", args.dtype] if args.dtype else [])))
