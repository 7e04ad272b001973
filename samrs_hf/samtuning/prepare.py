"""Training images in the model's frame, prepared once: true masks on the decoder's grid, and the encoder's
input or (frozen encoder) its output, kept in a memory-bounded cache that spills to disk.

Encoding an image is by far the costliest part of a SAM step (``benchmarks/README.md``, "SAM tuning"); with
the image encoder frozen each image is encoded once and its embedding served every epoch after.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from samrs_hf.labeling.sam_frame import SamFrame
from samrs_hf.records import SourceObject
from samrs_hf.samtuning.sources import MaskedImage, objects_with_masks

__all__ = ["PreparedImage", "TensorCache", "grid_targets"]

TARGET_CHUNK = 8
"""Masks resized to the grid per call (bounds the float copies of full-size masks)."""


def grid_targets(masks: list[np.ndarray], frame: SamFrame) -> torch.Tensor:
    """Boolean ``(n, *frame.mask_size)`` targets: each grid cell is True when the true mask covers at least half of
    it, through the frame's resize (and padding) by area averaging."""
    out = []
    for start in range(0, len(masks), TARGET_CHUNK):
        chunk = torch.from_numpy(np.stack(masks[start : start + TARGET_CHUNK])).float()[:, None]
        if not frame.square:
            resized = frame.resized(chunk.shape[-2:])
            chunk = F.interpolate(chunk, resized, mode="area")
            chunk = F.pad(chunk, (0, frame.pad_size[1] - resized[1], 0, frame.pad_size[0] - resized[0]))
        out.append(F.interpolate(chunk, frame.mask_size, mode="area")[:, 0] >= 0.5)
    return torch.cat(out)


@dataclass
class PreparedImage:
    """One training image: its objects with true masks, their grid targets, and its size ``(H, W)``."""

    image_id: str
    size: tuple[int, int]
    objects: list[SourceObject]
    targets: torch.Tensor  # bool (n, *mask_size)

    @classmethod
    def of(cls, image: MaskedImage, frame: SamFrame) -> PreparedImage | None:
        """The image's objects that have mask pixels; ``None`` when none has."""
        keep = objects_with_masks(image)
        if not keep:
            return None
        targets = grid_targets([image.masks[i] for i in keep], frame)
        size = (image.image.height, image.image.width)
        return cls(image.image_id, size, [image.objects[i] for i in keep], targets)


class TensorCache:
    """Tuples of tensors by integer key (an image's index): in memory up to ``memory_bytes``, then in
    safetensors files under ``folder`` (a temporary folder by default, removed with the cache)."""

    def __init__(self, memory_bytes: int, folder: str | Path | None = None):
        self.memory_bytes, self.used = memory_bytes, 0
        self._memory: dict[int, tuple[torch.Tensor, ...]] = {}
        self._temporary = None if folder else tempfile.TemporaryDirectory(prefix="samrs-embeddings-")
        self.folder = Path(folder or self._temporary.name)
        self._on_disk: set[int] = set()

    def __contains__(self, key: int) -> bool:
        return key in self._memory or key in self._on_disk

    def __len__(self) -> int:
        return len(self._memory) + len(self._on_disk)

    @property
    def spilled(self) -> int:
        """Entries kept on disk."""
        return len(self._on_disk)

    def put(self, key: int, tensors: tuple[torch.Tensor, ...]) -> None:
        tensors = tuple(t.detach().cpu().contiguous() for t in tensors)
        size = sum(t.numel() * t.element_size() for t in tensors)
        if self.used + size <= self.memory_bytes:
            self._memory[key] = tensors
            self.used += size
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        save_file({str(i): t for i, t in enumerate(tensors)}, self._path(key))
        self._on_disk.add(key)

    def get(self, key: int) -> tuple[torch.Tensor, ...]:
        if key in self._memory:
            return self._memory[key]
        loaded = load_file(self._path(key))
        return tuple(loaded[str(i)] for i in range(len(loaded)))

    def _path(self, key: int) -> Path:
        return self.folder / f"{key}.safetensors"
