"""SAM's input frame: where an image's pixels, points, boxes and masks land in the model's input.

SAM (``SamImageProcessor``) resizes an image so that its longest side is ``longest_edge``
(1024), rounding each side with ``int(side * scale + 0.5)``, and pads it bottom/right to
``pad_size`` (1024x1024). Point and box prompts are scaled per axis by resized/original size
(boxes rounded to float32 first, as ``SamProcessor`` does); the decoder's low-resolution masks
and the mask prompts live in a ``mask_size`` (256x256) grid over the padded frame.
:class:`SamFrame` does these mappings in numpy/torch, so the labelling code depends only on
the processor's public configuration (``size``, ``pad_size``, ``mask_pad_size``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["SamFrame"]


@dataclass(frozen=True)
class SamFrame:
    """SAM's resize-longest-side-and-pad frame; sizes are ``(height, width)``."""

    longest_edge: int = 1024
    pad_size: tuple[int, int] = (1024, 1024)
    mask_size: tuple[int, int] = (256, 256)

    @classmethod
    def from_image_processor(cls, image_processor) -> SamFrame:
        """The frame a ``SamImageProcessor`` (or its PIL variant) configures."""
        pad, mask = image_processor.pad_size, image_processor.mask_pad_size
        return cls(
            longest_edge=int(image_processor.size["longest_edge"]),
            pad_size=(int(pad["height"]), int(pad["width"])),
            mask_size=(int(mask["height"]), int(mask["width"])),
        )

    def resized(self, size: tuple[int, int]) -> tuple[int, int]:
        """The image's size after resizing, before padding."""
        scale = self.longest_edge / max(size)
        return int(size[0] * scale + 0.5), int(size[1] * scale + 0.5)

    def points(self, xy: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """``(..., 2)`` pixel ``(x, y)`` points of an image of ``size`` in the model frame (float64)."""
        height, width = self.resized(size)
        return np.asarray(xy, dtype=np.float64) * (width / size[1], height / size[0])

    def boxes(self, xyxy: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """``(..., 4)`` pixel ``[x0, y0, x1, y1]`` boxes in the model frame (float64 of float32 input)."""
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
        """Boolean ``(H, W)`` mask from one ``mask_size`` logit map: ``post_process_masks(...) > 0``.

        Bilinear to the padded frame, crop the padding, bilinear to ``size``. Two shortcuts cannot
        change a pixel: a map with no positive logit gives an empty mask (a bilinear sample is a
        convex combination of its inputs), and the second resize is skipped when it is the identity.
        """
        if not bool((low_res > 0).any()):
            return np.zeros(size, dtype=bool)
        resized = self.resized(size)
        logits = F.interpolate(low_res[None, None].float(), self.pad_size, mode="bilinear", align_corners=False)
        logits = logits[..., : resized[0], : resized[1]]
        if resized != tuple(size):
            logits = F.interpolate(logits, size, mode="bilinear", align_corners=False)
        return (logits[0, 0] > 0).cpu().numpy()
