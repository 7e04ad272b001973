"""``samrs viz DATASET_DIR --config sior --n 8 --out DIR``: label overlays (paper Fig. 4)."""

from __future__ import annotations

import argparse
from pathlib import Path

from samrs_hf.cli.arguments import add_dataset_arguments, load_split, refuse_existing


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "viz",
        help="semantic-label overlays of a few tiles as one PNG grid (paper Fig. 4)",
        description="Write {config}_overlays.png to the folder --out (an existing one needs --overwrite): N tiles, "
        "picked at random with --seed.",
    )
    add_dataset_arguments(parser)
    parser.add_argument("--n", type=int, default=8, help="number of tiles (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the pick (default: %(default)s)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from samrs_hf.dataset.viz import OverlayPanel, save_overlay_grid

    path = Path(args.out) / f"{args.config}_overlays.png"
    refuse_existing([path], args.overwrite)
    dataset = load_split(args)
    rows = dataset.shuffle(seed=args.seed).select(range(min(args.n, len(dataset))))
    panels = [OverlayPanel(row["image_id"], row["image"], np.asarray(row["semantic_map"])) for row in rows]
    names = dataset.features["objects"].feature["category"].names
    save_overlay_grid(panels, path, names, ncols=4)
    print(f"wrote {path}")
    return 0
