"""The image processor saved with every SEP model (``preprocessor_config.json``).

Pixels are ImageNet-normalised RGB at their own resolution: SEP models are trained on crops of
full-resolution tiles (no resizing), so the processor leaves the size alone unless asked
(``do_resize=True`` resizes to ``size``, the training crop by default). Logits come back at the
input size; :meth:`SepImageProcessor.post_process_semantic_segmentation` resizes them to each
image's own size and takes the arg-max, which is what ``pipeline("image-segmentation")`` calls.

Like ``modeling.py`` this module travels with saved models and imports nothing but numpy, torch and
transformers, so ``AutoImageProcessor.from_pretrained(folder, trust_remote_code=True)`` works
without samrs-hf.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers.image_processing_backends import PilBackend
from transformers.image_utils import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, PILImageResampling


class SepImageProcessor(PilBackend):
    """RGB, scaled to [0, 1], ImageNet mean/std; kept at its size unless ``do_resize``."""

    model_input_names = ["pixel_values"]  # noqa: RUF012 (transformers' class attribute)
    image_mean = IMAGENET_DEFAULT_MEAN
    image_std = IMAGENET_DEFAULT_STD
    size = {"height": 224, "width": 224}  # noqa: RUF012
    resample = PILImageResampling.BILINEAR
    do_resize = False
    do_rescale = True
    rescale_factor = 1 / 255
    do_normalize = True
    do_convert_rgb = True

    def post_process_semantic_segmentation(
        self, outputs, target_sizes: list[tuple[int, int]] | None = None
    ) -> list[torch.Tensor]:
        """One ``(height, width)`` map of class indices per image: ``outputs.logits`` bilinearly resized to
        ``target_sizes`` (left at the logits' size when ``None``), then the arg-max over classes."""
        logits = outputs.logits
        if target_sizes is None:
            return list(logits.argmax(dim=1))
        if len(target_sizes) != len(logits):
            raise ValueError(f"got {len(target_sizes)} target sizes for {len(logits)} images")
        return [
            F.interpolate(one[None], size=tuple(size), mode="bilinear", align_corners=False)[0].argmax(dim=0)
            for one, size in zip(logits, target_sizes)
        ]


SepImageProcessor.register_for_auto_class("AutoImageProcessor")
