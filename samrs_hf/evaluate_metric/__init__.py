"""An offline ``evaluate`` metric for segmentation: ``evaluate.load(METRIC_PATH)``.

The Hub's ``mean_iou`` is fetched over the network; this local script computes the same kind of
scores (OA, per-class F1 / IoU, mF1 / mIoU with an ignore index and excluded classes) with
:class:`samrs_hf.metrics.ConfusionMatrix`, so it loads with no network.
"""

from pathlib import Path

METRIC_PATH = str(Path(__file__).with_name("samrs_segmentation.py"))

__all__ = ["METRIC_PATH"]
