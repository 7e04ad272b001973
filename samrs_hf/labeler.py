"""Box-prompted SAM labelling with transformers' ``SamModel``: one image encoding, chunked decoding.

:class:`SamLabeler` encodes an image once, decodes its prompts ``prompt_batch_size`` at a time
(``multimask_output=False``) and yields one :class:`ObjectMask` per object. Memory bound: the
model, one image embedding, one chunk's decoder activations and low-resolution masks, and the
full-size mask being yielded; it does not grow with the number of objects (the previous chunk
is freed before the next is decoded).

Masks are ``SamProcessor.post_process_masks``'s (bilinear to the padded 1024 frame, crop, bilinear
to the image size, ``> 0``), computed one mask at a time (:func:`upscale_mask`) so that no chunk
of full-size float masks is ever materialised.

:func:`prefetch` overlaps reading and decoding images with SAM's compute.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from transformers import SamModel, SamProcessor

from samrs_hf.prompts import PromptSpec, SamPrompts, build_prompts
from samrs_hf.sources.base import SourceObject

__all__ = [
    "ModelNotAvailableError",
    "ObjectMask",
    "SamLabeler",
    "load_sam",
    "prefetch",
    "upscale_mask",
]

DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
}
T = TypeVar("T")


class ModelNotAvailableError(ValueError):
    """The SAM checkpoint is neither a local folder nor downloadable/cached."""


@dataclass
class ObjectMask:
    """SAM's mask for object ``index`` of the prompts: boolean ``(H, W)`` at the image size, and SAM's predicted IoU."""

    index: int
    mask: np.ndarray
    score: float


def load_sam(
    model: str | os.PathLike, device: torch.device, dtype: torch.dtype
) -> tuple[SamModel, SamProcessor]:
    """``SamModel`` + ``SamProcessor`` from a Hub id or a local folder, in eval mode on ``device``."""
    try:
        sam = SamModel.from_pretrained(model, dtype=dtype)
        processor = SamProcessor.from_pretrained(model)
    except OSError as err:
        if os.path.isdir(model):
            raise
        raise ModelNotAvailableError(
            f"cannot load SAM model '{model}' (offline and not cached?): {err}\n"
            "Pass --model PATH with a local folder holding a SamModel and SamProcessor "
            "(save_pretrained output; `samrs tiny-sam DIR` writes a small random one for trying things out)."
        ) from err
    return sam.to(device).eval(), processor


def _resolve_dtype(dtype: str | torch.dtype | None) -> torch.dtype:
    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype or torch.float32
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; use one of {', '.join(DTYPES)}")
    return DTYPES[dtype]


def _image_size(image: Image.Image | np.ndarray) -> tuple[int, int]:
    return (
        (image.height, image.width)
        if isinstance(image, Image.Image)
        else tuple(np.asarray(image).shape[:2])
    )


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
        self.device = torch.device(
            device or ("cuda" if torch.cuda.is_available() else "cpu")
        )
        self.dtype = _resolve_dtype(dtype)
        self.model, self.processor = load_sam(model, self.device, self.dtype)
        self.prompt_batch_size = prompt_batch_size

    @torch.inference_mode()
    def encode(
        self, image: Image.Image | np.ndarray
    ) -> tuple[torch.Tensor, tuple[int, int]]:
        """SAM's image embedding ``(1, C, 64, 64)`` and the resized (unpadded) size in the 1024 frame."""
        inputs = self.processor(images=image, return_tensors="pt")
        pixel_values = inputs["pixel_values"].to(self.device, self.dtype)
        reshaped = tuple(int(v) for v in inputs["reshaped_input_sizes"][0])
        return self.model.get_image_embeddings(pixel_values), reshaped

    def label(
        self,
        image: Image.Image | np.ndarray,
        objects: Sequence[SourceObject],
        prompt: str | PromptSpec = "hbox",
    ) -> Iterator[ObjectMask]:
        """Yield one :class:`ObjectMask` per object, in order, prompting SAM with ``prompt`` (e.g. ``"cp+hbox"``)."""
        prompts = build_prompts(prompt, objects, _image_size(image), self.processor)
        return self.label_prompts(image, prompts)

    def label_prompts(
        self, image: Image.Image | np.ndarray, prompts: SamPrompts
    ) -> Iterator[ObjectMask]:
        """Like :meth:`label` for prompts already built (their ``image_size`` must be the image's)."""
        size = _image_size(image)
        if tuple(prompts.image_size) != size:
            raise ValueError(
                f"prompts are for an image of size {prompts.image_size}, the image is {size}"
            )
        if len(prompts) == 0:
            return
        yield from self.label_encoded(self.encode(image), prompts)

    def label_encoded(
        self, encoded: tuple[torch.Tensor, tuple[int, int]], prompts: SamPrompts
    ) -> Iterator[ObjectMask]:
        """Like :meth:`label_prompts` for an image already :meth:`encode`-d (e.g. to try several
        prompt kinds on one encoding)."""
        embeddings, reshaped = encoded
        for start in range(0, len(prompts), self.prompt_batch_size):
            low_res, scores = self.decode(
                embeddings, prompts.chunk(start, start + self.prompt_batch_size)
            )
            for k in range(len(scores)):
                mask = upscale_mask(
                    low_res[k], reshaped, prompts.image_size, self.processor
                )
                yield ObjectMask(start + k, mask, float(scores[k]))
            del low_res  # one chunk alive at a time: free it before decoding the next

    @torch.inference_mode()
    def decode(
        self, embeddings: torch.Tensor, inputs: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
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
        return out.pred_masks.flatten(
            0, 2
        ).float(), out.iou_scores.flatten().float().cpu()


def upscale_mask(
    low_res: torch.Tensor,
    reshaped: tuple[int, int],
    original: tuple[int, int],
    processor: SamProcessor,
) -> np.ndarray:
    """``processor.post_process_masks(...) > 0`` for one ``(256, 256)`` logit map: boolean ``(H, W)`` mask.

    The same interpolations, with two shortcuts that cannot change a pixel: a map with no positive
    logit gives an empty mask (a bilinear sample is a convex combination of its inputs, so it
    cannot be positive either), and the second resize is skipped when it is the identity (every
    sample then has weight 1 on one input and 0 on the other).
    """
    if not bool((low_res > 0).any()):
        return np.zeros(original, dtype=bool)
    pad = processor.image_processor.pad_size
    logits = F.interpolate(
        low_res[None, None],
        (pad["height"], pad["width"]),
        mode="bilinear",
        align_corners=False,
    )
    logits = logits[..., : reshaped[0], : reshaped[1]]
    if tuple(reshaped) != tuple(original):
        logits = F.interpolate(logits, original, mode="bilinear", align_corners=False)
    return (logits[0, 0] > 0).cpu().numpy()


def prefetch(
    loaders: Iterable[Callable[[], T]], workers: int = 2, ahead: int = 4
) -> Iterator[T]:
    """Yield ``loader()`` for each loader, in order, running up to ``ahead`` of them in ``workers`` threads.

    Use it to read and decode images (PIL, numpy release the GIL) while SAM labels the previous one::

        for image in prefetch(functools.partial(load_rgb, p) for p in paths):
            masks = list(labeler.label(image, objects))

    Memory holds at most ``ahead`` loaded results beyond the one being used.
    """
    if ahead < 1 or workers < 1:
        raise ValueError("prefetch needs workers >= 1 and ahead >= 1")
    loaders = iter(loaders)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending = [pool.submit(f) for f in _take(loaders, ahead)]
        while pending:
            result = pending.pop(0).result()
            pending.extend(pool.submit(f) for f in _take(loaders, 1))
            yield result


def _take(iterator: Iterator[T], n: int) -> list[T]:
    return [
        item for _, item in zip(range(n), iterator)
    ]  # range first: zip must not consume an extra item
