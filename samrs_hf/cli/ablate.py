"""``samrs ablate --root HRSC2016 --out DIR``: the paper's prompt ablation (Table 1) on HRSC2016."""

from __future__ import annotations

import argparse
from pathlib import Path

from samrs_hf.cli.arguments import add_sam_arguments, make_labeler


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "ablate",
        help="score SAM prompt combinations against HRSC2016's ground-truth ship masks (paper Table 1)",
        description="Prompt SAM with each prompt combination on the HRSC2016 images that have pixel masks "
        "(each image is encoded once) and write ablation.md / ablation.json with mIoU_I and mIoU_P.",
    )
    parser.add_argument(
        "--root", required=True, type=Path, help="HRSC2016 folder (FullDataSet/ or AllImages/, and ImageSets/)"
    )
    add_sam_arguments(parser, "facebook/sam-vit-huge")
    parser.add_argument(
        "--prompts", default="paper", help="'paper' (the 15 Table-1 rows) or a comma list, e.g. 'hbox,rhbox,cp+hbox'"
    )
    parser.add_argument("--out", required=True, type=Path, help="folder for ablation.md and ablation.json")
    parser.add_argument(
        "--split", default="test", help="image list in ImageSets/ (default: %(default)s, the paper's set)"
    )
    parser.add_argument("--limit", type=int, default=None, help="use only the first N images")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from samrs_hf.experiments.ablation import ablation_image_ids, parse_prompt_list, run_ablation, write_ablation
    from samrs_hf.sources.hrsc2016 import HRSC2016

    prompts = parse_prompt_list(args.prompts)
    source = HRSC2016(args.root)
    image_ids = ablation_image_ids(source, args.split)[: args.limit]
    if not image_ids:
        raise FileNotFoundError(f"no {args.split} image with a segmentation PNG under {args.root}")
    results = run_ablation(source, make_labeler(args), prompts, image_ids)
    meta = {"model": str(args.model), "dataset": f"HRSC2016 {args.split}", "images": len(image_ids)}
    markdown, _ = write_ablation(args.out, results, meta)
    print(markdown.read_text(encoding="utf-8"))
    print(f"wrote {markdown} and {markdown.with_suffix('.json')}")
    return 0
