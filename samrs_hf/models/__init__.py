"""Checkpoints shipped inside the package (no Hub access needed).

``sam-small-synthetic/``: a small SAM (384-pixel frame, 64 wide, 4 ViT layers) trained from random weights on
synthetic scenes by ``samrs train-sam``; its ``README.md`` records the exact commands, data, time and
scores. It is the offline default of ``samrs demo``: real masks, not noise, for a first run.
"""

from pathlib import Path

__all__ = ["EMBEDDED_SAM"]

EMBEDDED_SAM = Path(__file__).resolve().parent / "sam-small-synthetic"
"""The embedded small SAM's folder (a ``save_pretrained`` checkpoint with its processor and card)."""
