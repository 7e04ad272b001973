"""Instance-mask agreement for the prompt ablation (SAMRS Eq. 1).

``mIoU_I`` is the mean over instances of ``I_i / U_i``; ``mIoU_P`` is ``sum_i I_i / sum_i U_i``.
Each prediction is compared with its own object's ground truth; objects whose union is empty
are skipped (as the official ablation code does).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["InstanceIoU", "intersection_union"]


def intersection_union(pred: np.ndarray, target: np.ndarray) -> tuple[int, int]:
    """Pixel counts of ``pred & target`` and ``pred | target`` for two boolean masks."""
    pred, target = np.asarray(pred, dtype=bool), np.asarray(target, dtype=bool)
    if pred.shape != target.shape:
        raise ValueError(f"mask shapes differ: prediction {pred.shape}, ground truth {target.shape}")
    return int(np.count_nonzero(pred & target)), int(np.count_nonzero(pred | target))


@dataclass
class InstanceIoU:
    """Accumulates per-instance intersections and unions; reports ``mIoU_I`` and ``mIoU_P`` in %."""

    intersections: list[int] = field(default_factory=list)
    unions: list[int] = field(default_factory=list)

    def update(self, pred: np.ndarray, target: np.ndarray) -> None:
        """Add one instance (its predicted and ground-truth masks); empty unions are skipped."""
        inter, union = intersection_union(pred, target)
        if union > 0:
            self.intersections.append(inter)
            self.unions.append(union)

    @property
    def instances(self) -> int:
        return len(self.unions)

    @property
    def miou_i(self) -> float:
        """Mean over instances of I/U, in percent (NaN with no instance)."""
        if not self.unions:
            return float("nan")
        return 100.0 * float(np.mean(np.divide(self.intersections, self.unions)))

    @property
    def miou_p(self) -> float:
        """Sum of intersections over sum of unions, in percent (NaN with no instance)."""
        if not self.unions:
            return float("nan")
        return 100.0 * sum(self.intersections) / sum(self.unions)

    def as_dict(self) -> dict:
        return {"mIoU_I": self.miou_i, "mIoU_P": self.miou_p, "instances": self.instances}
