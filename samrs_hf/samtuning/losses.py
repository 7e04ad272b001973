"""SAM's training loss: focal and dice on the mask (20:1), mean squared error on the predicted IoU.

Kirillov et al. (2023), appendix A: "We supervise mask prediction with a linear combination of focal loss
and dice loss in a 20:1 ratio ... The IoU prediction head is trained with mean-square-error loss between
the IoU prediction and the predicted mask's IoU with the ground truth mask."
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

__all__ = ["FOCAL_WEIGHT", "SamLoss", "sam_loss"]

FOCAL_WEIGHT = 20.0
FOCAL_ALPHA, FOCAL_GAMMA = 0.25, 2.0


@dataclass
class SamLoss:
    """The total and its parts (tensors; ``total`` carries the graph)."""

    total: torch.Tensor
    focal: torch.Tensor
    dice: torch.Tensor
    iou: torch.Tensor

    def items(self) -> dict[str, float]:
        return {name: float(getattr(self, name).detach()) for name in ("total", "focal", "dice", "iou")}


def sam_loss(logits: torch.Tensor, predicted_iou: torch.Tensor, targets: torch.Tensor) -> SamLoss:
    """Loss of ``(n, H, W)`` mask logits and ``(n,)`` predicted IoUs against boolean ``(n, H, W)`` targets,
    each term averaged over the ``n`` masks."""
    logits, target = logits.float().flatten(1), targets.float().flatten(1)
    prob = logits.sigmoid()
    ce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    p_t = prob * target + (1 - prob) * (1 - target)
    alpha_t = FOCAL_ALPHA * target + (1 - FOCAL_ALPHA) * (1 - target)
    focal = (alpha_t * ce * (1 - p_t) ** FOCAL_GAMMA).mean(1).mean()
    dice = (1 - (2 * (prob * target).sum(1) + 1) / (prob.sum(1) + target.sum(1) + 1)).mean()
    with torch.no_grad():
        predicted = logits > 0
        union = (predicted | (target > 0)).sum(1)
        actual = torch.where(union > 0, (predicted & (target > 0)).sum(1) / union.clamp(min=1), 1.0)
    iou = F.mse_loss(predicted_iou.float(), actual)
    return SamLoss(FOCAL_WEIGHT * focal + dice + iou, focal, dice, iou)
