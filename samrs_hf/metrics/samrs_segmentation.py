"""SAMRS segmentation scores as an ``evaluate`` metric (loaded offline from this file)."""

import datasets
import evaluate
import numpy as np
import torch

from samrs_hf.metrics.segmentation import ConfusionMatrix, segmentation_scores

_DESCRIPTION = """Confusion-matrix scores for semantic segmentation: overall accuracy, per-class F1 and
IoU, and their NaN-aware means (classes absent from both ground truth and prediction are skipped),
with pixels equal to `ignore_index` left out and `exclude`d classes left out of OA and the means."""

_KWARGS_DESCRIPTION = """
Args:
    predictions: list of (H, W) integer class maps.
    references: list of (H, W) integer class maps, `ignore_index` where unlabelled.
    num_classes: number of classes.
    ignore_index: label value to skip (default 255).
    class_names: optional names for the per-class keys (default: the class indices).
    exclude: class indices left out of OA and the means (e.g. Potsdam clutter).
Returns:
    dict with `OA`, `mF1`, `mIoU` and `F1/<class>`, `IoU/<class>`, all in percent.
"""


class SamrsSegmentation(evaluate.Metric):
    __doc__ = _DESCRIPTION + _KWARGS_DESCRIPTION

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="Wang et al., SAMRS, NeurIPS 2023 Datasets and Benchmarks",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "predictions": datasets.Sequence(datasets.Sequence(datasets.Value("uint16"))),
                    "references": datasets.Sequence(datasets.Sequence(datasets.Value("uint16"))),
                }
            ),
        )

    def _compute(
        self, predictions, references, num_classes: int, ignore_index: int = 255, class_names=None, exclude=()
    ) -> dict:
        cm = ConfusionMatrix(num_classes, ignore_index)
        for pred, ref in zip(predictions, references):
            cm.update(
                torch.as_tensor(np.asarray(pred, dtype=np.int64)), torch.as_tensor(np.asarray(ref, dtype=np.int64))
            )
        names = class_names or [str(i) for i in range(num_classes)]
        return segmentation_scores(cm, names, tuple(exclude))
