"""``samrs demo --out DIR``: label a synthetic scene with SAM and score it against its known masks."""

from __future__ import annotations

import argparse
from pathlib import Path

from samrs_hf.cli.arguments import add_sam_arguments, make_labeler
from samrs_hf.models import EMBEDDED_SAM

DEFAULT_MODEL = str(EMBEDDED_SAM)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="label a synthetic scene with SAM and score it against its known masks",
        description="Draw a synthetic overhead scene (ships, harbor, planes, storage tanks), write it in DOTA "
        "format, label it with SAM and write label.png, overlay.png and metrics.json (mIoU_I / mIoU_P). "
        "The default model is the small SAM shipped in the package (trained on other synthetic scenes).",
    )
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    add_sam_arguments(parser, DEFAULT_MODEL)
    parser.add_argument(
        "--prompt", default="hbox", help="prompt kinds, e.g. hbox, rhbox, cp+hbox (default: %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=0, help="scene seed (default: %(default)s)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from samrs_hf.experiments.demo import run_demo

    metrics = run_demo(args.out, make_labeler(args), args.prompt, args.seed)
    model = f"the embedded small SAM ({EMBEDDED_SAM}, see its README.md)" if args.model == DEFAULT_MODEL else args.model
    print(
        f"mIoU_I {metrics['mIoU_I']:.2f} %  mIoU_P {metrics['mIoU_P']:.2f} %  "
        f"({metrics['instances']} objects, prompt {metrics['prompt']}, scene seed {args.seed}, model {model})"
    )
    print(
        f"wrote {args.out}/overlay.png (look here first), label.png (class indices: looks black in a viewer), "
        f"label_color.png, metrics.json; the scene in DOTA format is under {args.out}/raw"
    )
    return 0
