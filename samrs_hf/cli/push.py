"""``samrs push DATASET_DIR --repo-id ORG/NAME``: upload a built dataset folder to the Hub."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "push",
        help="upload a dataset folder (shards + card) to a Hub dataset repo",
        description="Upload DATASET_DIR to the dataset repo ORG/NAME; load it back with "
        "load_dataset('ORG/NAME', 'fast') (the Hub needs the namespace).",
    )
    parser.add_argument("dataset_dir", type=Path)
    parser.add_argument("--repo-id", required=True, help="ORG/NAME")
    parser.add_argument("--private", action="store_true")
    parser.add_argument("--token", default=None, help="Hub token (default: the logged-in one)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from samrs_hf.dataset.hub import push_dataset

    url = push_dataset(args.dataset_dir, args.repo_id, private=args.private, token=args.token)
    print(f"pushed {args.dataset_dir} to {url}")
    return 0
