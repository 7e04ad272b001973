"""Box-prompted SAM labelling with transformers' ``SamModel``: one image encoding, chunked decoding.

:class:`SamLabeler` encodes an image once, decodes its prompts ``prompt_batch_size`` at a time
(``multimask_output=False``) and yields one :class:`LabeledObject` per object: its mask at the
image size, SAM's predicted IoU and the box the prompt came from. Memory bound: the model, one
image embedding, one chunk's decoder activations and low-resolution masks, and the full-size
mask being yielded; it does not grow with the number of objects (the previous chunk is freed
before the next is decoded).

Masks are ``SamProcessor.post_process_masks``'s (bilinear to the padded 1024 frame, crop,
bilinear to the image size, ``> 0``), computed one mask at a time
(:meth:`~samrs_hf.labeling.transforms.SamFrame.upscale`), so that no chunk of full-size float
masks is ever materialised.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from transformers import SamModel, SamProcessor

from samrs_hf.checkpoints import ModelNotAvailableError, check_checkpoint
from samrs_hf.labeling.prompts import PromptSpec, build_prompts
from samrs_hf.labeling.transforms import SamFrame
from samrs_hf.records import SourceObject

__all__ = ["ImageEncoding", "LabeledObject", "ModelNotAvailableError", "SamLabeler", "load_sam"]

DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
}


@dataclass
class LabeledObject:
    """SAM's result for ``objects[index]``: a boolean ``(H, W)`` mask at the image size, SAM's
    predicted IoU, and ``prompt_box``, the horizontal box ``[x0, y0, x1, y1]`` the prompt came from."""

    index: int
    object: SourceObject
    mask: np.ndarray
    score: float
    prompt_box: np.ndarray


@dataclass
class ImageEncoding:
    """SAM's image embedding ``(1, C, 64, 64)`` of an image of ``image_size`` (height, width)."""

    embeddings: torch.Tensor
    image_size: tuple[int, int]


def load_sam(model: str | os.PathLike, device: torch.device, dtype: torch.dtype) -> tuple[SamModel, SamProcessor]:
    """``SamModel`` + ``SamProcessor`` from a Hub id or a local folder, in eval mode on ``device``.

    The checkpoint is checked first (:func:`~samrs_hf.checkpoints.check_checkpoint`), so a missing
    folder, a folder without weights or an offline Hub id fail at once with one line.
    """
    model = check_checkpoint(
        model, "--model", "facebook/sam-vit-huge", "`samrs tiny-sam DIR` writes a tiny random SAM to try things out"
    )
    sam = SamModel.from_pretrained(model, dtype=dtype)
    processor = SamProcessor.from_pretrained(model)
    return sam.to(device).eval(), processor


def _resolve_dtype(dtype: str | torch.dtype | None) -> torch.dtype:
    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype or torch.float32
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; use one of {', '.join(DTYPES)}")
    return DTYPES[dtype]


def _image_size(image: Image.Image | np.ndarray) -> tuple[int, int]:
    return (image.height, image.width) if isinstance(image, Image.Image) else tuple(np.asarray(image).shape[:2])


class SamLabeler:
    """Label objects with SAM from box/point/mask prompts (Hub id or local folder in ``model``).

    ``device`` defaults to CUDA when available; ``dtype`` (``torch.bfloat16``/``"bf16"``,
    ``"fp16"``, ...) sets the model's precision (use half precision on CUDA); masks are upscaled in
    float32. ``prompt_batch_size`` prompts are decoded per model call: on a GPU large chunks pay
    off; on a CPU 1-2 is fastest (one prompt's decoder activations stay in cache; see
    ``benchmarks/README.md``). With 1, masks are bit for bit those of one ``SamModel`` call per
    prompt; larger chunks let BLAS sum in another order (logits differ by ~1e-6), which can flip
    a pixel whose logit is within that of 0.
    """

    def __init__(
        self,
        model: str | os.PathLike = "facebook/sam-vit-huge",
        device: str | torch.device | None = None,
        dtype: str | torch.dtype | None = None,
        prompt_batch_size: int = 64,
    ):
        if prompt_batch_size < 1:
            raise ValueError(f"prompt_batch_size must be >= 1, got {prompt_batch_size}")
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.dtype = _resolve_dtype(dtype)
        self.model_id = str(model)
        self.model, self.processor = load_sam(model, self.device, self.dtype)
        self.frame = SamFrame.from_image_processor(self.processor.image_processor)
        self.prompt_batch_size = prompt_batch_size

    @property
    def config_hash(self) -> str:
        """SHA-256 of the model's configuration, without where it was loaded from or its dtype: the same
        checkpoint gives the same hash however its path or Hub id is spelled."""
        config = self.model.config.to_dict()
        for key in ("_name_or_path", "_commit_hash", "transformers_version", "dtype", "torch_dtype"):
            config.pop(key, None)
        return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()

    @torch.inference_mode()
    def encode(self, image: Image.Image | np.ndarray) -> ImageEncoding:
        """SAM's image embedding of ``image``."""
        pixel_values = self.processor(images=image, return_tensors="pt")["pixel_values"]
        return ImageEncoding(
            self.model.get_image_embeddings(pixel_values.to(self.device, self.dtype)), _image_size(image)
        )

    def label_objects(
        self,
        image: Image.Image | np.ndarray,
        objects: Sequence[SourceObject],
        prompt: str | PromptSpec = "hbox",
        encoding: ImageEncoding | None = None,
    ) -> Iterator[LabeledObject]:
        """Yield one :class:`LabeledObject` per object, in order, prompting SAM with ``prompt`` (e.g. ``"cp+hbox"``).

        ``encoding`` reuses an earlier :meth:`encode` of this image (e.g. to try several prompts on one
        encoding); by default the image is encoded here, once, unless there is no object.
        """
        size = _image_size(image)
        if encoding is not None and encoding.image_size != size:
            raise ValueError(f"the encoding is of an image of size {encoding.image_size}, the image is {size}")
        if not objects:
            return
        prompts = build_prompts(prompt, objects, size, self.frame)
        encoding = encoding or self.encode(image)
        for start in range(0, len(prompts), self.prompt_batch_size):
            low_res, scores = self.decode(encoding.embeddings, prompts.chunk(start, start + self.prompt_batch_size))
            for k, score in enumerate(scores.tolist()):
                index = start + k
                mask = self.frame.upscale(low_res[k], size)
                yield LabeledObject(index, objects[index], mask, score, prompts.prompt_boxes[index])
            del low_res  # one chunk alive at a time: free it before decoding the next

    @torch.inference_mode()
    def decode(self, embeddings: torch.Tensor, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """SAM's mask decoder for one chunk: float32 low-res logits ``(n, 256, 256)`` and IoU scores ``(n,)``.

        Point/box prompts go in as one image with ``n`` prompts (SAM's point batch, saving ``n``
        copies of the embedding). Mask inputs need one batch row per prompt: transformers' decoder
        adds the dense embedding before repeating the image per prompt.
        """
        inputs = {k: v.to(self.device) for k, v in inputs.items()}
        n = len(next(iter(inputs.values())))
        if "input_masks" in inputs:
            inputs["input_masks"] = inputs["input_masks"].to(self.dtype)
            embeddings = embeddings.expand(n, -1, -1, -1)
        else:  # (n, 1, ...) -> (1, n, ...)
            inputs = {k: v.transpose(0, 1) for k, v in inputs.items()}
        out = self.model(image_embeddings=embeddings, multimask_output=False, **inputs)
        return out.pred_masks.flatten(0, 2).float(), out.iou_scores.flatten().float().cpu()
