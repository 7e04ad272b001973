"""``samrs push DATASET_DIR --repo-id ORG/NAME``: upload a built dataset folder to the Hub."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "push",
        help="upload a SAMRS dataset folder (shards + card) to a Hub dataset repo",
        description="Upload the card and finished shards of DATASET_DIR (not its hidden build records, which "
        "hold local paths) to the dataset repo ORG/NAME; load it back with load_dataset('ORG/NAME', 'fast') "
        "(the Hub needs the namespace). The Hub and the token are checked before anything is sent.",
    )
    parser.add_argument("dataset_dir", type=Path, help="a SAMRS folder written by `samrs build` or `import-release`")
    parser.add_argument("--repo-id", required=True, help="ORG/NAME")
    parser.add_argument("--private", action="store_true", help="create the repo private (if it does not exist)")
    parser.add_argument("--token", default=None, help="Hub token (default: the logged-in one)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from samrs_hf.dataset.hub import push_dataset

    url = push_dataset(args.dataset_dir, args.repo_id, private=args.private, token=args.token)
    print(f"pushed the card and shards of {args.dataset_dir} to {url}")
    return 0
