"""The model's input frame: where an image's pixels, points, boxes and masks land, and masks coming back
(as :class:`~samrs_hf.labeling.mask_window.MaskWindow`).

SAM and SAM-HQ (``SamImageProcessor``) resize an image so that its longest side is
``longest_edge`` (1024), rounding each side with ``int(side * scale + 0.5)``, and pad it
bottom/right to ``pad_size`` (1024x1024). Point and box prompts are scaled per axis by
resized/original size (float64, boxes rounded to float32 first, as ``SamProcessor`` does). The
decoder's low-resolution masks and the mask prompts live in a ``mask_size`` (256x256) grid over
the padded frame; ``post_process_masks`` brings a mask back with two bilinear resizes (to the
padded frame, crop the padding, to the image size) and ``> 0``.

SAM 2 (``Sam2Processor``) resizes every image to the square ``pad_size`` (1024x1024) whatever
its aspect, scales points and boxes in float32, and brings masks back with one bilinear resize
from ``mask_size`` to the image size (``square=True``).

:meth:`SamFrame.mask_window` gives the same mask as that reference (:meth:`SamFrame.upscale`)
at a cost that scales with the mask, not the image: it finds the mask's window from the
low-resolution logits, evaluates the bilinear resizes there in float64 with PyTorch's own sample
indices and weights (read off ``F.interpolate`` once per size pair), and falls back to the
full-resolution PyTorch resize when any pixel lies within a float32 rounding bound of 0 (so the
sign, hence the mask, is always PyTorch's).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from samrs_hf.labeling.mask_window import MaskWindow

__all__ = ["SamFrame"]

ROUNDING_BOUND = 2.0**-18
"""Relative bound (to the largest logit a window's pixels read) on the gap between PyTorch's float32
resizes and their float64 evaluation with the same weights: each resize is a convex combination, so
its values stay within that magnitude; float32 rounds at 2**-24 relative and the two resizes add a
few roundings each, so 2**-18 leaves a factor of about 8."""
DENSE_WINDOW = 0.25
"""Share of the image above which the window is evaluated by PyTorch's full-resolution resize instead."""
_DENSE = object()


@lru_cache(maxsize=64)
def _axis(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """PyTorch's own bilinear sampling along one axis (``align_corners=False``): for each output index the two
    input indices it reads and their float32 weights, read off ``F.interpolate`` of one-hot inputs."""
    one_hot = torch.eye(in_size, dtype=torch.float32)[None, :, :, None]
    weights = F.interpolate(one_hot, (out_size, 1), mode="bilinear", align_corners=False)[0, :, :, 0].numpy()
    first = (weights > 0).argmax(0)
    second = np.minimum(first + 1, in_size - 1)
    columns = np.arange(out_size)
    w_first = weights[first, columns].astype(np.float64)
    w_second = np.where(second > first, weights[second, columns], 0).astype(np.float64)
    return first, second, w_first, w_second


def _bilinear(values: np.ndarray, origin: tuple[int, int], in_size, out_size, rows: range, cols: range) -> np.ndarray:
    """Bilinear resize of a plane of ``in_size`` to ``out_size``, evaluated in float64 at output ``rows`` x ``cols``
    only; ``values`` holds the plane's rows/columns from ``origin`` on (they must cover the samples used)."""
    y0, y1, wy0, wy1 = (a[rows.start : rows.stop] for a in _axis(in_size[0], out_size[0]))
    x0, x1, wx0, wx1 = (a[cols.start : cols.stop] for a in _axis(in_size[1], out_size[1]))
    used = slice(int(y0[0]) - origin[0], int(y1[-1]) - origin[0] + 1)
    across = values[used][:, x0 - origin[1]] * wx0 + values[used][:, x1 - origin[1]] * wx1
    start = used.start + origin[0]
    return across[y0 - start] * wy0[:, None] + across[y1 - start] * wy1[:, None]


def _reach(in_rows: tuple[int, int], in_size: int, out_size: int, limit: int) -> range:
    """Output indices (below ``limit``) whose two samples touch input indices ``in_rows[0]..in_rows[1]``."""
    first, second, _, _ = _axis(in_size, out_size)
    hit = np.flatnonzero(
        ((first >= in_rows[0]) & (first <= in_rows[1])) | ((second >= in_rows[0]) & (second <= in_rows[1]))
    )
    hit = hit[hit < limit]
    return range(int(hit[0]), int(hit[-1]) + 1) if len(hit) else range(0)


def _needed(out: range, in_size: int, out_size: int) -> range:
    """Input indices the samples of outputs ``out`` read."""
    first, second, _, _ = _axis(in_size, out_size)
    return range(int(first[out.start]), int(second[out.stop - 1]) + 1)


@dataclass(frozen=True)
class SamFrame:
    """The model's input frame; sizes are ``(height, width)``. ``square``: SAM 2's fixed square resize."""

    longest_edge: int = 1024
    pad_size: tuple[int, int] = (1024, 1024)
    mask_size: tuple[int, int] = (256, 256)
    square: bool = False

    @classmethod
    def from_image_processor(cls, image_processor) -> SamFrame:
        """The frame a ``SamImageProcessor`` (or its PIL variant, or SAM-HQ's) configures."""
        pad, mask = image_processor.pad_size, image_processor.mask_pad_size
        return cls(
            longest_edge=int(image_processor.size["longest_edge"]),
            pad_size=(int(pad["height"]), int(pad["width"])),
            mask_size=(int(mask["height"]), int(mask["width"])),
        )

    def resized(self, size: tuple[int, int]) -> tuple[int, int]:
        """The image's size after resizing, before padding."""
        if self.square:
            return self.pad_size
        scale = self.longest_edge / max(size)
        return int(size[0] * scale + 0.5), int(size[1] * scale + 0.5)

    def points(self, xy: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """``(..., 2)`` pixel ``(x, y)`` points of an image of ``size`` in the model frame."""
        height, width = self.resized(size)
        dtype = np.float32 if self.square else np.float64
        return np.asarray(xy, dtype=dtype) * np.asarray((width / size[1], height / size[0]), dtype=dtype)

    def boxes(self, xyxy: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """``(..., 4)`` pixel ``[x0, y0, x1, y1]`` boxes in the model frame (rounded to float32 first)."""
        corners = np.asarray(xyxy, dtype=np.float32).reshape(-1, 2, 2)
        return self.points(corners, size).reshape(np.shape(xyxy))

    def mask_prompt(self, logits: np.ndarray, pad_value: float) -> torch.Tensor:
        """``(1, *mask_size)`` float32 mask input from full-resolution ``(H, W)`` logits.

        Bilinear resize to the resized size, pad bottom/right with ``pad_value``, bilinear resize
        to ``mask_size``.
        """
        resized = self.resized(logits.shape)
        pixels = torch.from_numpy(np.asarray(logits, dtype=np.float32))[None, None]
        pixels = F.interpolate(pixels, resized, mode="bilinear", align_corners=False)
        padding = (0, self.pad_size[1] - resized[1], 0, self.pad_size[0] - resized[0])
        pixels = F.pad(pixels, padding, value=pad_value)
        return F.interpolate(pixels, self.mask_size, mode="bilinear", align_corners=False)[0]

    def upscale(self, low_res: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
        """Boolean ``(H, W)`` mask from one ``mask_size`` logit map: the processor's ``post_process_masks(...) > 0``."""
        return (self._upscale_logits(low_res[None, None].float(), size)[0, 0] > 0).cpu().numpy()

    def _upscale_logits(self, low_res: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """``(n, 1, H, W)`` logits at the image size: the processor's resizes, on ``low_res``'s device."""
        if self.square:
            return F.interpolate(low_res, size, mode="bilinear", align_corners=False)
        resized = self.resized(size)
        logits = F.interpolate(low_res, self.pad_size, mode="bilinear", align_corners=False)
        logits = logits[..., : resized[0], : resized[1]]
        if resized != tuple(size):
            logits = F.interpolate(logits, size, mode="bilinear", align_corners=False)
        return logits

    def mask_window(self, low_res: torch.Tensor, size: tuple[int, int]) -> MaskWindow | None:
        """The mask :meth:`upscale` gives, as a tight window (``None`` when empty), at the cost of its window.

        Every sample of a bilinear resize is a convex combination of its inputs, so pixels whose
        samples touch no positive logit are not positive, and the window follows from the positive
        low-resolution cells. Inside it the resizes are evaluated in float64 with PyTorch's sampling
        rule; a pixel within :data:`ROUNDING_BOUND` (relative) of 0 could round to either side in
        PyTorch's float32, so then (and for a window over most of the image) the full-resolution
        PyTorch resize decides.
        """
        window = self._sparse_window(low_res, size)
        return self._full_windows(low_res[None], size)[0] if window is _DENSE else window

    def _sparse_window(self, low_res: torch.Tensor, size: tuple[int, int]) -> MaskWindow | object | None:
        """:meth:`mask_window` when the window path decides it, else :data:`_DENSE`."""
        low = low_res.float().cpu().numpy().astype(np.float64)
        positive = low > 0
        if not positive.any():
            return None
        rows, cols = np.flatnonzero(positive.any(1)), np.flatnonzero(positive.any(0))
        stages = self._stages(size)
        window = self._window(stages, (rows[0], rows[-1]), (cols[0], cols[-1]))
        if window is None:
            return None
        if len(window[0]) * len(window[1]) > DENSE_WINDOW * size[0] * size[1]:
            return _DENSE
        values, magnitude = self._evaluate(low, stages, *window)
        if np.abs(values).min() <= ROUNDING_BOUND * (1.0 + magnitude):
            return _DENSE
        return MaskWindow.tight(values > 0, window[0].start, window[1].start, size)

    def _stages(self, size: tuple[int, int]) -> list[tuple[tuple[int, int], tuple[int, int], tuple[int, int]]]:
        """The resizes from the mask grid to the image: ``(in_size, out_size, kept)`` each, where ``kept`` is
        the part of the output the next stage reads (the unpadded region for SAM's first resize)."""
        if self.square:
            return [(self.mask_size, tuple(size), tuple(size))]
        resized = self.resized(size)
        stages = [(self.mask_size, self.pad_size, resized)]
        if resized != tuple(size):
            stages.append((resized, tuple(size), tuple(size)))
        return stages

    @staticmethod
    def _window(stages, rows: tuple[int, int], cols: tuple[int, int]) -> tuple[range, range] | None:
        """Output rows and columns that can be positive, following the positive cells through each resize."""
        for in_size, out_size, kept in stages:
            out_rows = _reach(rows, in_size[0], out_size[0], kept[0])
            out_cols = _reach(cols, in_size[1], out_size[1], kept[1])
            if not out_rows or not out_cols:
                return None
            rows, cols = (out_rows.start, out_rows.stop - 1), (out_cols.start, out_cols.stop - 1)
        return out_rows, out_cols

    @staticmethod
    def _evaluate(low: np.ndarray, stages, out_rows: range, out_cols: range) -> tuple[np.ndarray, float]:
        """The chain of resizes evaluated in float64 at ``out_rows`` x ``out_cols`` of the last stage only, and
        the largest magnitude among the logits those values read."""
        needs = [(out_rows, out_cols)]
        for in_size, out_size, _ in reversed(stages):
            rows, cols = needs[0]
            needs.insert(0, (_needed(rows, in_size[0], out_size[0]), _needed(cols, in_size[1], out_size[1])))
        (read_rows, read_cols), needs = needs[0], needs[1:]
        magnitude = float(np.abs(low[read_rows.start : read_rows.stop, read_cols.start : read_cols.stop]).max())
        values, origin = low, (0, 0)
        for (in_size, out_size, _), (rows, cols) in zip(stages, needs):
            values, origin = _bilinear(values, origin, in_size, out_size, rows, cols), (rows.start, cols.start)
        return values, magnitude

    def windows(self, low_res: torch.Tensor, size: tuple[int, int]) -> list[MaskWindow | None]:
        """:meth:`mask_window` of each ``(n, *mask_size)`` map. The masks the window path cannot decide are
        resized together at full resolution (one call, PyTorch's threads); on a GPU the whole chunk is,
        on the device (the processor's own computation), and only the windows come back."""
        if low_res.device.type != "cpu":
            return self._full_windows(low_res, size)
        out = [self._sparse_window(mask, size) for mask in low_res]
        dense = [i for i, window in enumerate(out) if window is _DENSE]
        if dense:
            for i, window in zip(dense, self._full_windows(low_res[dense], size)):
                out[i] = window
        return out

    def _full_windows(self, low_res: torch.Tensor, size: tuple[int, int]) -> list[MaskWindow | None]:
        """Windows of ``(n, *mask_size)`` maps resized at full resolution, on their device: tight on a GPU
        (only they come back), the whole image on the CPU (tightening would cost another pass)."""
        masks = self._upscale_logits(low_res[:, None].float(), size)[:, 0] > 0
        if masks.device.type == "cpu":
            return [MaskWindow(0, 0, mask, tuple(size)) if mask.any() else None for mask in masks.numpy()]
        rows, cols = masks.any(2), masks.any(1)
        height, width = size
        first_row = torch.where(rows.any(1), rows.float().argmax(1), height)
        last_row = height - 1 - rows.flip(1).float().argmax(1)
        first_col, last_col = cols.float().argmax(1), width - 1 - cols.flip(1).float().argmax(1)
        bounds = torch.stack([first_row, last_row, first_col, last_col], 1).tolist()
        out = []
        for mask, (y0, y1, x0, x1) in zip(masks, bounds):
            crop = mask[y0 : y1 + 1, x0 : x1 + 1].cpu().numpy() if y0 < height else None
            out.append(None if crop is None else MaskWindow(y0, x0, crop, tuple(size)))
        return out
