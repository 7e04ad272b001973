"""Box-prompted labelling with SAM, SAM-HQ or SAM 2 (transformers): one image encoding, chunked decoding.

:class:`SamLabeler` encodes an image once (or several per encoder call, :meth:`~SamLabeler.encode_batch`),
decodes its prompts ``prompt_batch_size`` at a time and yields one :class:`LabeledObject` per object:
its mask (as a tight :class:`~samrs_hf.labeling.mask_window.MaskWindow`), the model's predicted IoU
and the box the prompt came from. Memory bound: the model, one image embedding, one chunk's decoder
activations and low-resolution masks, and the windows being yielded; it does not grow with the
number of objects (the previous chunk is freed before the next is decoded).

Masks equal the model's own ``post_process_masks(...) > 0`` (SAM: bilinear to the padded 1024
frame, crop, bilinear to the image size; SAM 2: one bilinear resize), computed at the cost of
each mask's window (:meth:`~samrs_hf.labeling.sam_frame.SamFrame.mask_window`); on a GPU a
chunk is resized on the device and only the windows come back.

:class:`Decoding` adds the mask-quality options the paper did not use: SAM's three-mask output
keeping the best predicted IoU, refinement passes feeding the low-resolution logits back as a
mask prompt, and clipping to the (dilated) rotated box.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from transformers import PreTrainedConfig

from samrs_hf import geometry
from samrs_hf.checkpoints import ModelNotAvailableError, check_checkpoint
from samrs_hf.labeling.backends import SamBackend, load_backend
from samrs_hf.labeling.mask_window import MaskWindow
from samrs_hf.labeling.prompts import PromptSpec, build_prompts
from samrs_hf.records import SourceObject

__all__ = [
    "Decoding",
    "ImageEncoding",
    "LabeledObject",
    "ModelNotAvailableError",
    "SamLabeler",
    "config_hash",
    "default_prompt_batch_size",
    "parse_row",
    "resolve_dtype",
]

DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
}
PROMPT_BATCH_SIZES = {"cpu": 1}
"""Default prompts per decoder call by device. On a CPU one prompt per call: the fastest chunk in
``benchmarks/results_cpu.json`` from 20 boxes up (``tests/test_benchmarks.py`` holds the two together), and
bit for bit one model call per prompt. Elsewhere 64, segment-anything's own batch of points per call
(``benchmarks/README.md`` for what is measured on which device)."""


def default_prompt_batch_size(device: torch.device | str) -> int:
    """:data:`PROMPT_BATCH_SIZES` for ``device``; 64 for CUDA and other accelerators."""
    return PROMPT_BATCH_SIZES.get(torch.device(device).type, 64)


@dataclass(frozen=True)
class Decoding:
    """How a prompt becomes a mask beyond the paper's one mask per prompt (all off by default).

    ``best``: decode SAM's three masks and keep the one of highest predicted IoU.
    ``refine``: that many more decoder passes with the previous low-resolution logits as the mask
    prompt (the prompt is otherwise unchanged). ``clip_rbox``: intersect the mask with the object's
    rotated box grown by this many pixels on every side (objects without a rotated box are kept as
    they are); it can only remove pixels.

    Text form, as in ablation rows ``PROMPT@OPTION...``: ``best``, ``refineK``, ``clipM``
    (e.g. ``rhbox@best@refine1@clip2``).
    """

    best: bool = False
    refine: int = 0
    clip_rbox: float | None = None

    def __post_init__(self) -> None:
        if self.refine < 0:
            raise ValueError(f"--refine {self.refine}: give 0 or more decoder passes")
        if self.clip_rbox is not None and not self.clip_rbox >= 0:
            raise ValueError(f"--clip-rbox {self.clip_rbox:g}: give a margin of 0 pixels or more")

    @classmethod
    def parse(cls, text: str | Decoding | None) -> Decoding:
        """``"best@refine2@clip3"``-style text (or ``None``/``""`` for the paper's decoding)."""
        if isinstance(text, Decoding):
            return text
        best, refine, clip = False, 0, None
        for option in filter(None, (text or "").split("@")):
            if option == "best":
                best = True
            elif match := re.fullmatch(r"refine(\d+)", option):
                refine = int(match[1])
            elif match := re.fullmatch(r"clip(\d+(?:\.\d+)?)", option):
                clip = float(match[1])
            else:
                raise ValueError(
                    f"unknown decoding option {option!r} in {text!r}; use best, refineK (e.g. refine1) or "
                    "clipM (clip to the rotated box grown by M pixels, e.g. clip2)"
                )
        return cls(best, refine, clip)

    def __str__(self) -> str:
        options = ["best"] if self.best else []
        options += [f"refine{self.refine}"] if self.refine else []
        options += [f"clip{self.clip_rbox:g}"] if self.clip_rbox is not None else []
        return "@".join(options)


def parse_row(text: str) -> tuple[PromptSpec, Decoding]:
    """An ablation row ``PROMPT[@OPTION...]`` (e.g. ``hbox@best``): its prompt and its decoding."""
    prompt, _, options = text.strip().partition("@")
    return PromptSpec.parse(prompt), Decoding.parse(options)


@dataclass
class LabeledObject:
    """The model's result for ``objects[index]``: its mask (a tight window of an image of ``image_size``,
    ``None`` when empty), the predicted IoU, and ``prompt_box``, the horizontal box ``[x0, y0, x1, y1]``
    the prompt came from."""

    index: int
    object: SourceObject
    window: MaskWindow | None
    score: float
    prompt_box: np.ndarray
    image_size: tuple[int, int]

    @property
    def mask(self) -> np.ndarray:
        """The whole boolean ``(H, W)`` mask (allocated on each access)."""
        return np.zeros(self.image_size, dtype=bool) if self.window is None else self.window.full()


@dataclass
class ImageEncoding:
    """The model's embeddings of one image of ``image_size`` (height, width): tensors with a batch dim of 1."""

    embeddings: tuple[torch.Tensor, ...]
    image_size: tuple[int, int]


def resolve_dtype(dtype: str | torch.dtype | None) -> torch.dtype:
    """The torch dtype of ``dtype`` (a name of :data:`DTYPES`, a dtype, or ``None`` for float32)."""
    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype or torch.float32
    if dtype not in DTYPES:
        raise ValueError(f"--dtype {dtype}: unknown; use one of {', '.join(DTYPES)}")
    return DTYPES[dtype]


def config_hash(config: PreTrainedConfig) -> str:
    """SHA-256 of a model configuration as ``save_pretrained`` writes it (``to_diff_dict``: not where it was
    loaded from), without the transformers version or any ``dtype``: one checkpoint gives one hash however its
    path or Hub id is spelled and whatever it is loaded in."""

    def without_dtype(value):
        if isinstance(value, dict):
            return {k: without_dtype(v) for k, v in value.items() if k not in ("dtype", "transformers_version")}
        return value

    text = json.dumps(without_dtype(config.to_diff_dict()), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _image_size(image: Image.Image | np.ndarray) -> tuple[int, int]:
    return (image.height, image.width) if isinstance(image, Image.Image) else tuple(np.asarray(image).shape[:2])


class SamLabeler:
    """Label objects with a SAM, SAM-HQ or SAM 2 checkpoint (Hub id or local folder in ``model``, or an already
    loaded :class:`~samrs_hf.labeling.backends.SamBackend`, whose model's device and dtype are then the caller's).

    ``device`` defaults to CUDA when available. ``dtype`` (``"bf16"``, ``"fp16"``; default fp32, the
    paper's) sets the weights' precision and runs the model under autocast; attention uses PyTorch's
    SDPA (transformers' default). ``prompt_batch_size`` prompts are decoded per model call (default
    by device: :data:`PROMPT_BATCH_SIZES`); with 1, masks are bit for bit those of one model call per
    prompt, larger chunks let BLAS sum in another order (logits differ by ~1e-6), which can flip a
    pixel whose logit is within that of 0. ``decoding``: :class:`Decoding` options. ``compile``:
    ``torch.compile`` the image encoder and the mask decoder (``True`` or a backend name).
    """

    def __init__(
        self,
        model: str | os.PathLike | SamBackend = "facebook/sam-vit-huge",
        device: str | torch.device | None = None,
        dtype: str | torch.dtype | None = None,
        prompt_batch_size: int | None = None,
        decoding: Decoding | str | None = None,
        compile: bool | str = False,
    ):
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.prompt_batch_size = prompt_batch_size or default_prompt_batch_size(self.device)
        if self.prompt_batch_size < 1:
            raise ValueError(f"prompt_batch_size must be >= 1, got {prompt_batch_size}")
        self.dtype = resolve_dtype(dtype)
        self.decoding = Decoding.parse(decoding)
        if isinstance(model, SamBackend):  # a model in memory, e.g. one being trained
            self.backend, self.model_id = model, model.model.name_or_path
        else:
            self.model_id = str(model)
            checkpoint = check_checkpoint(
                model,
                "--model",
                "facebook/sam-vit-huge",
                "`samrs tiny-sam DIR` writes a tiny random SAM to try things out",
            )
            self.backend = load_backend(checkpoint, self.device, self.dtype)
        self.model, self.frame = self.backend.model, self.backend.frame
        if compile:
            self.backend.compile(compile if isinstance(compile, str) else "inductor")

    def _autocast(self):
        half = self.dtype in (torch.bfloat16, torch.float16)
        return torch.autocast(self.device.type, dtype=self.dtype) if half else nullcontext()

    def _to_device(self, tensor: torch.Tensor) -> torch.Tensor:
        if self.device.type == "cuda":
            return tensor.pin_memory().to(self.device, non_blocking=True)
        return tensor.to(self.device)

    @torch.inference_mode()
    def encode_batch(self, images: Sequence[Image.Image | np.ndarray]) -> list[ImageEncoding]:
        """The embeddings of several images from one encoder call (equal to one call each up to float rounding)."""
        pixel_values = self._to_device(self.backend.pixel_values(images)).to(self.dtype)
        with self._autocast():
            embeddings = self.backend.encode(pixel_values)
        return [
            ImageEncoding(tuple(t[i : i + 1] for t in embeddings), _image_size(image)) for i, image in enumerate(images)
        ]

    def encode(self, image: Image.Image | np.ndarray) -> ImageEncoding:
        """The embeddings of one image."""
        return self.encode_batch([image])[0]

    def label_objects(
        self,
        image: Image.Image | np.ndarray,
        objects: Sequence[SourceObject],
        prompt: str | PromptSpec = "hbox",
        encoding: ImageEncoding | None = None,
        decoding: Decoding | str | None = None,
    ) -> Iterator[LabeledObject]:
        """Yield one :class:`LabeledObject` per object, in order, prompting with ``prompt`` (e.g. ``"cp+hbox"``).

        ``encoding`` reuses an earlier :meth:`encode` of this image (e.g. to try several prompts on one
        encoding); by default the image is encoded here, once, unless there is no object. ``decoding``
        overrides the labeler's :class:`Decoding`.
        """
        size = _image_size(image)
        if encoding is not None and encoding.image_size != size:
            raise ValueError(f"the encoding is of an image of size {encoding.image_size}, the image is {size}")
        if not objects:
            return
        decoding = self.decoding if decoding is None else Decoding.parse(decoding)
        prompts = build_prompts(prompt, objects, size, self.frame)
        encoding = encoding or self.encode(image)
        for start in range(0, len(prompts), self.prompt_batch_size):
            low_res, scores = self._masks(encoding, prompts.chunk(start, start + self.prompt_batch_size), decoding)
            for k, (window, score) in enumerate(zip(self.frame.windows(low_res, size), scores.tolist())):
                index = start + k
                if decoding.clip_rbox is not None and window is not None:
                    window = _clip_to_rbox(window, objects[index], decoding.clip_rbox)
                yield LabeledObject(index, objects[index], window, score, prompts.prompt_boxes[index], size)
            del low_res  # one chunk alive at a time: free it before decoding the next

    def _masks(
        self, encoding: ImageEncoding, inputs: dict[str, torch.Tensor], decoding: Decoding
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Low-resolution logits ``(n, 256, 256)`` and scores ``(n,)`` of one chunk, with ``decoding``'s options."""
        masks, scores = self.decode(encoding, inputs, multimask=decoding.best)
        best = scores.argmax(1)
        rows = torch.arange(len(best))
        low_res, score = masks[rows.to(masks.device), best.to(masks.device)], scores[rows, best]
        for _ in range(decoding.refine):
            refined = {k: v for k, v in inputs.items() if k != "input_masks"} | {"input_masks": low_res[:, None]}
            masks, scores = self.decode(encoding, refined, multimask=False)
            low_res, score = masks[:, 0], scores[:, 0]
        return low_res, score

    @torch.inference_mode()
    def decode(
        self, encoding: ImageEncoding, inputs: dict[str, torch.Tensor], multimask: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The mask decoder for one chunk: float32 low-res logits ``(n, k, 256, 256)`` on the device and IoU
        scores ``(n, k)`` on the CPU (``k`` = 3 with ``multimask``, else 1); see
        :meth:`~samrs_hf.labeling.backends.SamBackend.decode_prompts`."""
        inputs = {k: self._to_device(v) for k, v in inputs.items()}
        with self._autocast():
            masks, scores = self.backend.decode_prompts(encoding.embeddings, inputs, multimask)
        return masks.float(), scores.float().cpu()


def _clip_to_rbox(window: MaskWindow, obj: SourceObject, margin: float) -> MaskWindow | None:
    """``window`` without its pixels outside ``obj``'s rotated box grown by ``margin`` pixels (if it has one)."""
    if obj.rbox is None:
        return window
    cx, cy, w, h, angle = np.asarray(obj.rbox, dtype=np.float64)
    polygon = geometry.rbox_to_polygon([cx - window.x0, cy - window.y0, w + 2 * margin, h + 2 * margin, angle])
    return window.restrict(geometry.rasterize_polygon(polygon, *window.crop.shape))
