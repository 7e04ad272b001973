"""Subset statistics as in the paper: pixels and instances per category (Fig. 5) and the
mask-size histogram with its <100-pixel bin (Fig. 6), as JSON and PNG figures."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np
from datasets import Dataset
from matplotlib.figure import Figure
from tqdm.auto import tqdm

from samrs_hf.classes import IGNORE_INDEX

__all__ = ["SIZE_BINS", "SubsetStats", "compute_stats", "save_stats", "stats_figures", "stats_paths"]

SIZE_BINS: tuple[float, ...] = (0, 100, 1_000, 10_000, 100_000, float("inf"))
"""Mask-area bin edges in pixels; the first bin is the paper's "< 100 pixels"."""


@dataclass
class SubsetStats:
    """Per-class ``pixels`` (semantic-map coverage) and ``instances``; ``size_counts`` per SIZE_BINS bin."""

    class_names: list[str]
    pixels: list[int]
    instances: list[int]
    size_counts: list[int]
    images: int
    unlabeled_pixels: int

    @property
    def size_labels(self) -> list[str]:
        """Readable bin labels: ``<100``, ``100-1k``, ..., ``>=100k``."""
        edges = [_short(e) for e in SIZE_BINS[1:-1]]
        return [f"<{edges[0]}"] + [f"{a}-{b}" for a, b in pairwise(edges)] + [f">={edges[-1]}"]


def _short(value: float) -> str:
    return f"{int(value) // 1000}k" if value >= 1000 else str(int(value))


def compute_stats(dataset: Dataset) -> SubsetStats:
    """Count pixels per class from the semantic maps and instances and mask sizes from ``objects``."""
    names = dataset.features["objects"].feature["category"].names
    pixels = np.zeros(256, dtype=np.int64)
    instances = np.zeros(len(names), dtype=np.int64)
    areas: list[int] = []
    rows = dataset.select_columns(["semantic_map", "objects"])
    for row in tqdm(rows, desc="statistics", unit="image"):
        pixels += np.bincount(np.asarray(row["semantic_map"]).ravel(), minlength=256)
        for obj in row["objects"]:
            instances[obj["category"]] += 1
            areas.append(obj["area"])
    size_counts, _ = np.histogram(areas, bins=np.array(SIZE_BINS))
    return SubsetStats(
        class_names=list(names),
        pixels=pixels[: len(names)].tolist(),
        instances=instances.tolist(),
        size_counts=size_counts.tolist(),
        images=len(rows),
        unlabeled_pixels=int(pixels[IGNORE_INDEX]),
    )


def _bar_figure(names: list[str], values: list[int], xlabel: str, title: str) -> Figure:
    fig = Figure(figsize=(7, 0.28 * len(names) + 1.4))
    ax = fig.subplots()
    ax.barh(range(len(names)), values, color="tab:blue")
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.invert_yaxis()
    if any(values):
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("category")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def _size_figure(stats: SubsetStats, title: str) -> Figure:
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    bars = ax.bar(stats.size_labels, stats.size_counts, color="tab:orange")
    ax.bar_label(bars, fontsize=8)
    ax.set_xlabel("mask area (pixels)")
    ax.set_ylabel("number of masks")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def stats_figures(stats: SubsetStats, name: str) -> dict[str, Figure]:
    """The paper's figures of one subset: ``pixels`` and ``instances`` per category (Fig. 5, log scale)
    and ``mask_sizes`` (Fig. 6, masks per area bin)."""
    title = name.upper()
    return {
        "pixels": _bar_figure(stats.class_names, stats.pixels, "pixels (log scale)", f"{title}: pixels per category"),
        "instances": _bar_figure(
            stats.class_names, stats.instances, "instances (log scale)", f"{title}: instances per category"
        ),
        "mask_sizes": _size_figure(stats, f"{title}: mask sizes"),
    }


FIGURES = ("pixels", "instances", "mask_sizes")
"""The keys of :func:`stats_figures`, which name their PNGs."""


def stats_paths(out_dir: str | Path, name: str) -> list[Path]:
    """The files :func:`save_stats` writes: ``{name}_stats.json`` and one PNG per figure."""
    out_dir = Path(out_dir)
    return [out_dir / f"{name}_stats.json", *(out_dir / f"{name}_{key}.png" for key in FIGURES)]


def save_stats(stats: SubsetStats, out_dir: str | Path, name: str) -> list[Path]:
    """Write ``{name}_stats.json`` and the PNGs ``{name}_pixels.png``, ``{name}_instances.png``,
    ``{name}_mask_sizes.png`` to ``out_dir`` (:func:`stats_paths`); returns the paths."""
    json_path, *pngs = paths = stats_paths(out_dir, name)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    record = asdict(stats) | {"size_bins": [str(e) for e in SIZE_BINS], "size_labels": stats.size_labels}
    json_path.write_text(json.dumps(record, indent=2), encoding="utf-8")
    figures = stats_figures(stats, name)
    for key, png in zip(FIGURES, pngs):
        figures[key].savefig(png, dpi=120)
    return paths
