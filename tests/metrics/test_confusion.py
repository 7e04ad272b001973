"""Confusion-matrix metrics against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from samrs_hf.metrics import ConfusionMatrix, segmentation_scores

# 3 classes; 255 pixels are ignored. Pairs (gt, pred) after dropping ignored pixels:
# (0,0) x2, (0,1) x1, (1,1) x2, (1,0) x1; class 2 never occurs in ground truth or prediction.
TARGET = torch.tensor([[0, 0, 0, 255], [1, 1, 1, 255]])
PRED = torch.tensor([[0, 0, 1, 2], [1, 1, 0, 2]])
EXPECTED = torch.tensor([[2, 1, 0], [1, 2, 0], [0, 0, 0]])


def filled() -> ConfusionMatrix:
    cm = ConfusionMatrix(3)
    cm.update(PRED[:1], TARGET[:1])  # two batches: streaming
    cm.update(PRED[1:], TARGET[1:])
    return cm


def test_matrix_skips_ignored_pixels():
    assert torch.equal(filled().matrix, EXPECTED)


def test_scores_by_hand():
    cm = filled()
    assert cm.overall_accuracy() == pytest.approx(4 / 6)
    assert cm.precision()[:2].tolist() == pytest.approx([2 / 3, 2 / 3])
    assert cm.recall()[:2].tolist() == pytest.approx([2 / 3, 2 / 3])
    assert cm.f1()[:2].tolist() == pytest.approx([2 / 3, 2 / 3])
    assert cm.iou()[:2].tolist() == pytest.approx([0.5, 0.5])
    assert math.isnan(cm.iou()[2]) and math.isnan(cm.f1()[2])  # empty class
    assert cm.mean(cm.iou()) == pytest.approx(0.5)  # NaN-aware: the empty class does not count


def test_excluded_class_leaves_oa_and_means():
    cm = ConfusionMatrix(3)
    # gt 2 ("clutter") predicted as 0 twice; class 0 perfect once, class 1 half right.
    cm.update(torch.tensor([0, 1, 0, 0, 0]), torch.tensor([0, 1, 1, 2, 2]))
    scores = segmentation_scores(cm, ["a", "b", "clutter"], exclude=(2,))
    assert scores["OA"] == pytest.approx(100 * 2 / 3)  # clutter ground truth left out
    # class a: TP 1, FP 1 (gt b) + 2 (gt clutter) -> F1 = 2/(2+3); class b: TP 1, FN 1 -> F1 = 2/3
    assert scores["F1/a"] == pytest.approx(100 * 2 / 5)
    assert scores["mF1"] == pytest.approx(100 * (2 / 5 + 2 / 3) / 2)
    assert "F1/clutter" not in scores


def test_bad_input_is_rejected():
    cm = ConfusionMatrix(2)
    with pytest.raises(ValueError, match="outside"):
        cm.update(torch.tensor([0]), torch.tensor([5]))
    with pytest.raises(ValueError, match="shape"):
        cm.update(torch.tensor([0, 1]), torch.tensor([0]))


class SumAccelerator:
    """Stands in for two processes: ``reduce`` adds the other process's matrix."""

    def __init__(self, other: torch.Tensor) -> None:
        self.other = other

    def reduce(self, tensor: torch.Tensor, reduction: str) -> torch.Tensor:
        assert reduction == "sum"
        return tensor + self.other


def test_reduce_sums_processes():
    cm = filled().reduce(SumAccelerator(EXPECTED))
    assert torch.equal(cm.matrix, 2 * EXPECTED)


def test_offline_evaluate_module_matches(monkeypatch):
    import evaluate

    from samrs_hf.metrics import METRIC_PATH

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    metric = evaluate.load(METRIC_PATH)
    scores = metric.compute(
        predictions=[PRED.numpy()], references=[TARGET.numpy()], num_classes=3, class_names=["a", "b", "c"]
    )
    assert scores == pytest.approx(segmentation_scores(filled(), ["a", "b", "c"]), nan_ok=True)
    assert scores["mIoU"] == pytest.approx(50.0)
