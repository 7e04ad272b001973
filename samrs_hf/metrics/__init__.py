"""Metrics: instance-mask agreement (the prompt ablation) and confusion-matrix scores (training).

``METRIC_PATH`` is an offline ``evaluate`` metric over :class:`ConfusionMatrix`:
``evaluate.load(METRIC_PATH)`` (the Hub's ``mean_iou`` needs the network).
"""

from pathlib import Path

from samrs_hf._lazy import lazy_exports

METRIC_PATH = str(Path(__file__).with_name("samrs_segmentation.py"))

__getattr__, __all__ = lazy_exports(
    __name__,
    {
        "instance": ["InstanceIoU", "intersection_union"],
        "segmentation": ["ConfusionMatrix", "segmentation_scores"],
    },
)
__all__ += ["METRIC_PATH"]
