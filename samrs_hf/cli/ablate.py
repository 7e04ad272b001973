"""``samrs ablate --root HRSC2016 --out DIR [--model M ...]``: the paper's prompt ablation (Table 1) on HRSC2016.

``samrs ablate --show-paper`` prints the paper's Table 1 (all 15 rows, both figures) without a dataset.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from samrs_hf.cli.arguments import add_image_limit_argument, add_sam_arguments, apply_image_limit
from samrs_hf.experiments.table1 import PAPER_MODEL, paper_table_markdown


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "ablate",
        help="score SAM prompt rows against HRSC2016's ground-truth ship masks (paper Table 1)",
        description="Prompt SAM with each row on the HRSC2016 images that have pixel masks (each image is encoded "
        "once per model) and write ablation.md / ablation.json with mIoU_I and mIoU_P beside the paper's figures.",
    )
    parser.add_argument("--show-paper", action="store_true", help="print the paper's Table 1 and stop")
    parser.add_argument("--root", type=Path, help="HRSC2016 folder (FullDataSet/ or AllImages/, and ImageSets/)")
    add_sam_arguments(parser, f"the paper's {PAPER_MODEL}", decoding=False, several_models=True)
    parser.set_defaults(on_interrupt="interrupted: nothing was written; rerun to start the ablation again")
    parser.add_argument(
        "--prompts",
        default="paper",
        help="comma list of rows PROMPT[@OPTION...], 'paper' standing for the 15 Table-1 rows "
        "(e.g. 'paper,hbox@best,hbox@refine1'; options: best, refineK, clipM)",
    )
    parser.add_argument("--out", type=Path, help="folder for ablation.md and ablation.json")
    parser.add_argument(
        "--split", default="test", help="image list in ImageSets/ (default: %(default)s, the paper's set)"
    )
    parser.add_argument("--limit", type=int, default=None, help="use only the first N images")
    add_image_limit_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.show_paper:
        print(f"SAMRS Table 1: {PAPER_MODEL} on the 124 HRSC2016 test images with masks (mIoU in %)\n")
        print(paper_table_markdown())
        return 0
    if args.root is None or args.out is None:
        raise ValueError("--root and --out are required (or --show-paper to print the paper's table)")
    if not args.root.is_dir():
        raise FileNotFoundError(f"--root {args.root}: no such folder (HRSC2016)")
    apply_image_limit(args)
    from samrs_hf.experiments.ablation import ablation_image_ids, parse_rows, run_ablation, write_ablation
    from samrs_hf.labeling.labeler import SamLabeler
    from samrs_hf.sources.hrsc2016 import HRSC2016

    rows = parse_rows(args.prompts)
    source = HRSC2016(args.root)
    image_ids = ablation_image_ids(source, args.split)[: args.limit]
    if not image_ids:
        raise FileNotFoundError(f"no {args.split} image with a segmentation PNG under {args.root}")
    results = {}
    for model in args.model or [PAPER_MODEL]:  # one model in memory at a time
        labeler = SamLabeler(model, args.device, args.dtype, args.prompt_batch_size, compile=args.compile)
        results[model] = run_ablation(source, labeler, rows, image_ids)
        del labeler
    meta = {"models": ", ".join(results), "dataset": f"HRSC2016 {args.split}", "images": len(image_ids)}
    markdown, _ = write_ablation(args.out, results, meta)
    print(markdown.read_text(encoding="utf-8"))
    print(f"wrote {markdown} and {markdown.with_suffix('.json')}")
    return 0
