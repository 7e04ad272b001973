"""Confusion-matrix metrics for semantic segmentation (fine-tuning and SEP validation).

:class:`ConfusionMatrix` counts (ground truth, prediction) pixel pairs, skipping ``ignore_index``.
Derived scores follow the usual definitions: OA = trace / total; per class
precision = TP / (TP + FP), recall = TP / (TP + FN), F1 = 2 TP / (2 TP + FP + FN),
IoU = TP / (TP + FP + FN). A class with a zero denominator (never in the ground truth and
never predicted) gets NaN, and the means (mF1, mIoU) are NaN-aware: they average the classes
that have a value, minus the ``exclude``d ones (e.g. Potsdam's clutter).
"""

from __future__ import annotations

import torch

__all__ = ["ConfusionMatrix", "segmentation_scores"]


def _ratio(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    """``num / den`` in float64 with NaN where ``den == 0``."""
    num, den = num.double(), den.double()
    return torch.where(den > 0, num / den.clamp(min=1), torch.full_like(num, float("nan")))


class ConfusionMatrix:
    """Streaming ``num_classes x num_classes`` confusion matrix; rows = ground truth, columns = prediction."""

    def __init__(self, num_classes: int, ignore_index: int = 255, device: torch.device | str = "cpu") -> None:
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.matrix = torch.zeros(num_classes, num_classes, dtype=torch.int64, device=device)

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        """Add a batch of predicted and ground-truth class maps (same shape, integer)."""
        if pred.shape != target.shape:
            raise ValueError(f"prediction {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")
        pred, target = pred.reshape(-1).long(), target.reshape(-1).long()
        keep = target != self.ignore_index
        pred, target = pred[keep], target[keep]
        if target.numel() and (target.min() < 0 or target.max() >= self.num_classes):
            raise ValueError(f"target has values outside 0..{self.num_classes - 1} (and {self.ignore_index})")
        bins = torch.bincount(target * self.num_classes + pred, minlength=self.num_classes**2)
        self.matrix += bins.reshape(self.num_classes, self.num_classes).to(self.matrix.device)

    def reduce(self, accelerator) -> ConfusionMatrix:
        """Sum the matrices of all processes (``accelerator.reduce``); returns ``self``."""
        self.matrix = accelerator.reduce(self.matrix, reduction="sum")
        return self

    @property
    def true_positives(self) -> torch.Tensor:
        return self.matrix.diag()

    def overall_accuracy(self, exclude: tuple[int, ...] = ()) -> float:
        """Correct pixels / labelled pixels, leaving out ground-truth pixels of ``exclude``d classes."""
        rows = [c for c in range(self.num_classes) if c not in exclude]
        sub = self.matrix[rows]
        return float(_ratio(sub[:, rows].diag().sum(), sub.sum()))

    def precision(self) -> torch.Tensor:
        return _ratio(self.true_positives, self.matrix.sum(0))

    def recall(self) -> torch.Tensor:
        return _ratio(self.true_positives, self.matrix.sum(1))

    def f1(self) -> torch.Tensor:
        tp = self.true_positives
        return _ratio(2 * tp, self.matrix.sum(0) + self.matrix.sum(1))

    def iou(self) -> torch.Tensor:
        tp = self.true_positives
        return _ratio(tp, self.matrix.sum(0) + self.matrix.sum(1) - tp)

    def mean(self, values: torch.Tensor, exclude: tuple[int, ...] = ()) -> float:
        """NaN-aware mean of per-class ``values`` over the classes not in ``exclude``."""
        keep = torch.ones(self.num_classes, dtype=torch.bool)
        keep[list(exclude)] = False
        return float(values[keep].nanmean())


def segmentation_scores(
    cm: ConfusionMatrix, class_names: list[str] | tuple[str, ...], exclude: tuple[int, ...] = ()
) -> dict[str, float]:
    """OA, mF1, mIoU and per-class F1 / IoU in percent, with ``exclude``d classes left out of OA and means."""
    f1, iou = cm.f1(), cm.iou()
    scores = {
        "OA": 100 * cm.overall_accuracy(exclude),
        "mF1": 100 * cm.mean(f1, exclude),
        "mIoU": 100 * cm.mean(iou, exclude),
    }
    for index, name in enumerate(class_names):
        if index not in exclude:
            scores[f"F1/{name}"] = 100 * float(f1[index])
            scores[f"IoU/{name}"] = 100 * float(iou[index])
    return scores
