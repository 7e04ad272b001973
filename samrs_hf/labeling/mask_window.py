"""A boolean mask kept as its window of the image, and its COCO RLE computed from the window alone."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from pycocotools import mask as mask_utils

__all__ = ["MaskWindow"]

DENSE_RLE = 0.125
"""Share of the image above which a window's RLE is encoded by pycocotools from a full Fortran-ordered copy."""


@dataclass
class MaskWindow:
    """A boolean mask of an image of ``size`` (height, width), kept as ``crop`` at rows ``y0:y0+h``,
    columns ``x0:x0+w`` (all pixels outside are False). The window need not be tight: a mask resized
    at full size on the CPU keeps the whole image rather than pay another pass to tighten it."""

    y0: int
    x0: int
    crop: np.ndarray
    size: tuple[int, int]

    @classmethod
    def tight(cls, crop: np.ndarray, y0: int, x0: int, size: tuple[int, int]) -> MaskWindow | None:
        """The window of the True pixels of ``crop`` (placed at ``y0, x0``), or ``None`` when there is none."""
        rows, cols = np.flatnonzero(crop.any(1)), np.flatnonzero(crop.any(0))
        if not len(rows):
            return None
        crop = crop[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        return cls(y0 + int(rows[0]), x0 + int(cols[0]), crop, tuple(size))

    def restrict(self, keep: np.ndarray) -> MaskWindow | None:
        """This mask without the pixels where ``keep`` (shaped like ``crop``) is False, tightened."""
        return MaskWindow.tight(self.crop & keep, self.y0, self.x0, self.size)

    @property
    def area(self) -> int:
        return int(np.count_nonzero(self.crop))

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.y0, self.y0 + self.crop.shape[0]), slice(self.x0, self.x0 + self.crop.shape[1])

    def full(self) -> np.ndarray:
        """The whole ``(H, W)`` boolean mask."""
        mask = np.zeros(self.size, dtype=bool)
        mask[self.slices] = self.crop
        return mask

    def rle(self) -> dict:
        """COCO RLE ``{"size": [h, w], "counts": str}`` of the whole mask, computed from the window alone.

        COCO counts alternate zeros and ones in column-major order, starting with zeros. Padding the
        crop with a zero row above and below makes every run of ones end inside its column, so the
        positions where the padded column-major sequence changes value are the run boundaries.
        """
        height, width = self.size
        if self.crop.size > DENSE_RLE * height * width:  # pycocotools' own pass is faster over most of the image
            whole = self.crop if self.crop.shape == tuple(self.size) else self.full()
            # column-major bytes by torch's blocked transpose (faster than numpy's strided copy)
            column_major = torch.from_numpy(np.ascontiguousarray(whole)).mT.contiguous().view(torch.uint8)
            counts = mask_utils.encode(column_major.numpy().T)["counts"]
            return {"size": [height, width], "counts": counts.decode("ascii")}
        padded = np.zeros((self.crop.shape[0] + 2, self.crop.shape[1]), dtype=bool)
        padded[1:-1] = self.crop
        flat = padded.T.ravel()
        changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
        column, row = np.divmod(changes, padded.shape[0])
        boundaries = (self.x0 + column) * height + self.y0 + row - 1
        joined = np.zeros(len(boundaries), dtype=bool)  # a run ending where the next column's run starts
        joined[1:] |= boundaries[1:] == boundaries[:-1]
        joined[:-1] |= joined[1:]
        counts = np.diff(np.concatenate([[0], boundaries[~joined], [height * width]]))
        counts = counts[:-1] if counts[-1] == 0 else counts  # ones up to the last pixel
        rle = mask_utils.frPyObjects({"size": [height, width], "counts": counts.tolist()}, height, width)
        return {"size": [height, width], "counts": rle["counts"].decode("ascii")}
