"""Agreement of two SAMRS folders of one subset, e.g. ``samrs build`` output against the imported authors' release.

Tiles are paired by ``image_id``; tiles in only one folder are counted and named, and so are paired
tiles whose sizes differ (left out of everything below). ``A`` is the reference: rows of the
confusion matrix, and the category an instance pair is counted under.

* **Semantic maps**: one streaming :class:`~samrs_hf.metrics.segmentation.ConfusionMatrix` over the
  subset's K classes plus *unlabelled* (value 255) as an extra class K. A pixel of class ``c`` in one
  map and 255 in the other counts against ``c`` (a miss or a false alarm); a pixel that is 255 in
  both only adds to the unlabelled class's own agreement, so it never changes a class's IoU. Per
  class IoU = TP / (TP + FP + FN); **mIoU** = their mean over the classes present in either folder
  (NaN-aware), without unlabelled, whose IoU is reported apart. **Pixel agreement** = pixels with the
  same class / pixels labelled in at least one map.
* **Instances**: paired by prompt box, one to one: boxes equal, or with box IoU >= ``box_iou``
  (default 0.99), taken greedily from the highest box IoU. Each pair's mask IoU = I / U of the two
  RLEs (two empty masks: 1). Reported: the mean over pairs (like the paper's mIoU_I), sum I / sum U
  (like mIoU_P), the mean per class, pairs whose categories differ, and instances left unpaired in
  each folder. All scores are in percent.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pycocotools import mask as mask_utils
from tqdm.auto import tqdm

from samrs_hf.classes import IGNORE_INDEX
from samrs_hf.dataset.subsets import get_subset

__all__ = ["InstanceAgreement", "box_iou", "compare_folders", "match_boxes", "report_paths", "write_report"]

LISTED = 20
"""Tile ids listed per kind (only in A, only in B, size mismatch) in the report; all are counted."""


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(n, m)`` IoU of ``[x0, y0, x1, y1]`` boxes; equal boxes have IoU 1 (even when degenerate)."""
    a, b = np.asarray(a, dtype=np.float64).reshape(-1, 4), np.asarray(b, dtype=np.float64).reshape(-1, 4)
    low, high = np.maximum(a[:, None, :2], b[None, :, :2]), np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(high - low, 0, None), axis=-1)
    area_a, area_b = np.prod(a[:, 2:] - a[:, :2], axis=-1), np.prod(b[:, 2:] - b[:, :2], axis=-1)
    union = area_a[:, None] + area_b[None, :] - inter
    iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    iou[np.all(a[:, None, :] == b[None, :, :], axis=-1)] = 1.0
    return iou


def match_boxes(a: np.ndarray, b: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """One-to-one pairs ``(i, j)`` of boxes with IoU >= ``threshold``, greedily from the highest IoU."""
    iou = box_iou(a, b)
    candidates = np.argwhere(iou >= threshold)
    order = np.argsort(-iou[candidates[:, 0], candidates[:, 1]], kind="stable")
    used_a, used_b, pairs = set(), set(), []
    for i, j in candidates[order].tolist():
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            pairs.append((i, j))
    return pairs


def _rle(segmentation: dict) -> dict:
    return {"size": list(segmentation["size"]), "counts": segmentation["counts"].encode("ascii")}


@dataclass
class InstanceAgreement:
    """Streaming instance agreement: pairs by prompt box, their mask IoUs, and what stayed unpaired."""

    num_classes: int
    box_iou: float = 0.99
    instances_a: int = 0
    instances_b: int = 0
    pairs: int = 0
    category_mismatch: int = 0
    iou_sum: float = 0.0
    intersection: int = 0
    union: int = 0
    class_pairs: np.ndarray = field(init=False)
    class_iou_sum: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.class_pairs = np.zeros(self.num_classes, dtype=np.int64)
        self.class_iou_sum = np.zeros(self.num_classes, dtype=np.float64)

    def add(self, objects_a: list[dict], objects_b: list[dict]) -> None:
        """Add the instances of one tile of each folder."""
        self.instances_a += len(objects_a)
        self.instances_b += len(objects_b)
        boxes_a = [o["prompt_box"] for o in objects_a]
        boxes_b = [o["prompt_box"] for o in objects_b]
        for i, j in match_boxes(boxes_a, boxes_b, self.box_iou):
            a, b = _rle(objects_a[i]["segmentation"]), _rle(objects_b[j]["segmentation"])
            inter = int(mask_utils.area(mask_utils.merge([a, b], intersect=True)))
            union = int(mask_utils.area(a)) + int(mask_utils.area(b)) - inter
            iou = inter / union if union else 1.0
            category = objects_a[i]["category"]
            self.pairs += 1
            self.category_mismatch += category != objects_b[j]["category"]
            self.iou_sum += iou
            self.intersection += inter
            self.union += union
            self.class_pairs[category] += 1
            self.class_iou_sum[category] += iou

    def scores(self, classes: tuple[str, ...]) -> dict:
        per_class = np.divide(
            self.class_iou_sum, self.class_pairs, out=np.full(self.num_classes, np.nan), where=self.class_pairs > 0
        )
        return {
            "a": self.instances_a,
            "b": self.instances_b,
            "paired": self.pairs,
            "only_a": self.instances_a - self.pairs,
            "only_b": self.instances_b - self.pairs,
            "category_mismatch": self.category_mismatch,
            "mean_iou": _percent(self.iou_sum / self.pairs if self.pairs else math.nan),
            "pixel_iou": _percent(self.intersection / self.union if self.union else math.nan),
            "classes": [
                {"index": k, "name": name, "paired": int(self.class_pairs[k]), "mean_iou": _percent(per_class[k])}
                for k, name in enumerate(classes)
            ],
        }


def _percent(value: float) -> float | None:
    """``100 * value``, or ``None`` (JSON null) when undefined."""
    return None if math.isnan(value) else 100 * float(value)


def _label_map(row: dict, num_classes: int, folder: Path) -> np.ndarray:
    """A row's semantic map as int64 with 255 moved to ``num_classes`` (the unlabelled class)."""
    labels = np.asarray(row["semantic_map"], dtype=np.int64)
    bad = np.unique(labels[(labels >= num_classes) & (labels != IGNORE_INDEX)])
    if bad.size:
        raise ValueError(
            f"{folder}: semantic map of {row['image_id']} holds {bad.tolist()}, not class indices below {num_classes}"
        )
    labels[labels == IGNORE_INDEX] = num_classes
    return labels


def compare_folders(a: Path, b: Path, config: str, split: str = "train", box_iou: float = 0.99) -> dict:
    """Compare ``config``/``split`` of the SAMRS folders ``a`` (reference) and ``b``; returns the report as a dict.

    ``ValueError`` when no tile can be compared (no image id in common, or only of other sizes).
    """
    import torch

    from samrs_hf.dataset.folder import load_subset
    from samrs_hf.metrics.segmentation import ConfusionMatrix

    recipe = get_subset(config)
    columns = ["image_id", "semantic_map", "objects"]
    rows_a = load_subset(a, config, split).select_columns(columns)
    rows_b = load_subset(b, config, split).select_columns(columns)
    ids_a, ids_b = rows_a["image_id"], rows_b["image_id"]
    index_b = {name: i for i, name in enumerate(ids_b)}
    only_a = [name for name in ids_a if name not in index_b]
    only_b = sorted(set(ids_b) - set(ids_a))
    k = len(recipe.classes)
    matrix = ConfusionMatrix(k + 1, ignore_index=-1)
    instances = InstanceAgreement(k, box_iou)
    mismatched = []
    pairs = [(i, index_b[name]) for i, name in enumerate(ids_a) if name in index_b]
    where = f"{config}/{split} tile of {a} and {b}"
    if not pairs:
        raise _nothing_to_compare(where, "no image id in common", only_a, only_b)
    for i, j in tqdm(pairs, desc=f"comparing {config}/{split}", unit="tile"):
        row_a, row_b = rows_a[i], rows_b[j]
        labels_a, labels_b = _label_map(row_a, k, a), _label_map(row_b, k, b)
        if labels_a.shape != labels_b.shape:
            mismatched.append(row_a["image_id"])
            continue
        matrix.update(torch.from_numpy(labels_b), torch.from_numpy(labels_a))
        instances.add(row_a["objects"], row_b["objects"])
    if len(pairs) == len(mismatched):
        raise _nothing_to_compare(where, f"{len(pairs)} image ids in common, all of other sizes", only_a, only_b)
    return {
        "config": config,
        "split": split,
        "a": str(a),
        "b": str(b),
        "box_iou": box_iou,
        "tiles": {
            "a": len(ids_a),
            "b": len(ids_b),
            "compared": len(pairs) - len(mismatched),
            "only_a": len(only_a),
            "only_b": len(only_b),
            "size_mismatch": len(mismatched),
            "only_a_ids": only_a[:LISTED],
            "only_b_ids": only_b[:LISTED],
            "size_mismatch_ids": mismatched[:LISTED],
        },
        "semantic": _semantic_scores(matrix.matrix.numpy(), recipe.classes),
        "instances": instances.scores(recipe.classes),
    }


def _nothing_to_compare(where: str, common: str, only_a: list[str], only_b: list[str]) -> ValueError:
    """The one-line error of two folders with no tile to compare, with the tiles only one of them has."""

    def example(ids: list[str]) -> str:
        return f" (e.g. {ids[0]})" if ids else ""

    return ValueError(
        f"no {where} can be compared: {common}, {len(only_a)} only in A{example(only_a)}, "
        f"{len(only_b)} only in B{example(only_b)}; compare folders built from the same source images"
    )


def _semantic_scores(matrix: np.ndarray, classes: tuple[str, ...]) -> dict:
    """Per-class IoU, mIoU (classes only), unlabelled IoU and pixel agreement of a ``(K+1, K+1)`` matrix."""
    k = len(classes)
    tp, in_a, in_b = np.diag(matrix), matrix.sum(1), matrix.sum(0)
    union = in_a + in_b - tp
    iou = np.divide(tp, union, out=np.full(k + 1, np.nan), where=union > 0)
    labelled = matrix.sum() - matrix[k, k]
    return {
        "mIoU": _percent(float(np.nanmean(iou[:k])) if np.isfinite(iou[:k]).any() else math.nan),
        "pixel_agreement": _percent(tp[:k].sum() / labelled if labelled else math.nan),
        "unlabelled_iou": _percent(iou[k]),
        "classes": [
            {"index": c, "name": name, "iou": _percent(iou[c]), "pixels_a": int(in_a[c]), "pixels_b": int(in_b[c])}
            for c, name in enumerate(classes)
        ],
        "unlabelled_pixels_a": int(in_a[k]),
        "unlabelled_pixels_b": int(in_b[k]),
    }


def report_paths(out: Path, config: str, split: str) -> tuple[Path, Path]:
    """``(markdown, json)`` paths of a report: ``out`` is a file stem (``.md`` / ``.json`` dropped), or an
    existing folder, which gets ``compare_{config}_{split}.md`` / ``.json``."""
    out = Path(out)
    stem = out / f"compare_{config}_{split}" if out.is_dir() else out
    if stem.suffix in (".md", ".json"):
        stem = stem.with_suffix("")
    return stem.with_name(stem.name + ".md"), stem.with_name(stem.name + ".json")


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def render_markdown(report: dict) -> str:
    """The report as a Markdown page: tiles, semantic agreement per class, instance agreement per class
    (the tables list the classes present; the JSON has them all)."""
    tiles, semantic, instances = report["tiles"], report["semantic"], report["instances"]
    lines = [
        f"# SAMRS agreement: {report['config']} / {report['split']}",
        "",
        f"A (reference): `{report['a']}`  ",
        f"B: `{report['b']}`",
        "",
        "## Tiles",
        "",
        f"In A: {tiles['a']}; in B: {tiles['b']}; compared: {tiles['compared']}; only in A: {tiles['only_a']}; "
        f"only in B: {tiles['only_b']}; sizes differ: {tiles['size_mismatch']}.",
    ]
    for key, title in (("only_a_ids", "Only in A"), ("only_b_ids", "Only in B"), ("size_mismatch_ids", "Sizes differ")):
        if tiles[key]:
            lines += ["", f"{title} (first {LISTED}): " + ", ".join(f"`{name}`" for name in tiles[key])]
    lines += [
        "",
        "## Semantic maps",
        "",
        f"mIoU: **{_fmt(semantic['mIoU'])}**; pixel agreement: {_fmt(semantic['pixel_agreement'])}; "
        f"unlabelled (255) IoU: {_fmt(semantic['unlabelled_iou'])}. A pixel labelled in one map and 255 in the "
        "other counts against its class; pixels 255 in both count only for *unlabelled*, which is not in the mIoU.",
        "",
        "Classes in either folder:",
        "",
        "| index | class | IoU | pixels in A | pixels in B |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {c['index']} | {c['name']} | {_fmt(c['iou'])} | {c['pixels_a']} | {c['pixels_b']} |"
        for c in semantic["classes"]
        if c["pixels_a"] or c["pixels_b"]
    ]
    lines += [
        "",
        "## Instances",
        "",
        f"Paired by prompt box (equal, or box IoU >= {report['box_iou']}): {instances['paired']} of "
        f"{instances['a']} in A and {instances['b']} in B (unpaired: {instances['only_a']} in A, "
        f"{instances['only_b']} in B); categories differ in {instances['category_mismatch']} pairs.",
        f"Mask IoU of the pairs: mean **{_fmt(instances['mean_iou'])}**; sum I / sum U {_fmt(instances['pixel_iou'])}.",
        "",
        "Classes with pairs:",
        "",
        "| index | class (A) | pairs | mean mask IoU |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {c['index']} | {c['name']} | {c['paired']} | {_fmt(c['mean_iou'])} |"
        for c in instances["classes"]
        if c["paired"]
    ]
    return "\n".join(lines) + "\n"


def write_report(report: dict, out: Path) -> tuple[Path, Path]:
    """Write ``report`` as Markdown and JSON at :func:`report_paths` (replacing them)."""
    paths = report_paths(out, report["config"], report["split"])
    paths[0].parent.mkdir(parents=True, exist_ok=True)
    paths[0].write_text(render_markdown(report), encoding="utf-8")
    paths[1].write_text(json.dumps(report, indent=2), encoding="utf-8")
    return paths
