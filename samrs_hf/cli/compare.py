"""``samrs compare A B --config C --out REPORT``: how closely two SAMRS folders of one subset agree."""

from __future__ import annotations

import argparse
from pathlib import Path

from samrs_hf.cli.arguments import add_overwrite_argument, check_split, refuse_existing
from samrs_hf.dataset.subsets import SUBSETS


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="agreement of two SAMRS folders of one subset: per-class pixel IoU, mIoU, instance IoU",
        description="Pair tiles by image_id and instances by prompt box; write REPORT.md and REPORT.json "
        "(REPORT is a file stem, or an existing folder that gets compare_{config}_{split}.md/.json; existing "
        "reports need --overwrite). "
        "A is the reference, e.g. the imported release; B e.g. your `samrs build`.",
    )
    parser.add_argument("a", type=Path, help="reference SAMRS folder (e.g. from `samrs import-release`)")
    parser.add_argument("b", type=Path, help="SAMRS folder to compare with it (e.g. from `samrs build`)")
    parser.add_argument("--config", required=True, choices=sorted(SUBSETS), help="subset to compare")
    parser.add_argument("--split", default="train", help="dataset split (default: train)")
    parser.add_argument("--out", required=True, type=Path, help="report file stem, or a folder")
    parser.add_argument(
        "--box-iou",
        type=float,
        default=0.99,
        help="prompt boxes with at least this IoU pair two instances (default: %(default)s; equal boxes always pair)",
    )
    add_overwrite_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not 0 < args.box_iou <= 1:
        raise ValueError(f"--box-iou {args.box_iou}: give a box IoU in (0, 1]")
    for folder in (args.a, args.b):
        check_split(argparse.Namespace(dataset_dir=folder, config=args.config, split=args.split))
    from samrs_hf.dataset.compare import compare_folders, report_paths, write_report

    refuse_existing(list(report_paths(args.out, args.config, args.split)), args.overwrite)
    report = compare_folders(args.a, args.b, args.config, args.split, args.box_iou)
    markdown, data = write_report(report, args.out)
    semantic, instances = report["semantic"], report["instances"]
    print(
        f"compared {report['tiles']['compared']} tiles: mIoU {semantic['mIoU']}, "
        f"instance mean IoU {instances['mean_iou']} ({instances['paired']} pairs)\nwrote {markdown} and {data}"
    )
    return 0
