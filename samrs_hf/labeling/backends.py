"""SAM, SAM-HQ and SAM 2 image checkpoints behind one interface: preprocess, encode, decode.

The family comes from the checkpoint's own ``config.json`` (``model_type``), and the weights are
loaded strictly into that family's transformers class: a checkpoint loaded into the wrong class,
or with missing or unexpected weights, is an error, never a silent fallback.

========  ===============  ==========================================  =================================
family    model_type       transformers classes                        Hub ids (examples)
========  ===============  ==========================================  =================================
SAM       ``sam``          ``SamModel`` + ``SamProcessor``              facebook/sam-vit-huge, -large, -base
SAM-HQ    ``sam_hq``       ``SamHQModel`` + ``SamHQProcessor``          syscv-community/sam-hq-vit-huge, -base
SAM 2     ``sam2``         ``Sam2Model`` (+ our preprocessing)          facebook/sam2.1-hiera-large, -small, -tiny
========  ===============  ==========================================  =================================

Each backend keeps a batch of image embeddings as a tuple of tensors with the images on dim 0:
SAM's embedding; SAM-HQ's embedding and its ViT's early features; SAM 2's three feature levels.

SAM 2's image processor (``Sam2ImageProcessor``) needs torchvision, which does not install beside
the CPU torch this project pins, so :class:`Sam2Backend` preprocesses as that processor is
configured (``preprocessor_config.json``): an antialiased bilinear resize of the uint8 image to
1024x1024, rounded back to uint8, then rescale by 1/255 and normalise with ImageNet's mean and
std. Its masks come back with SAM 2's ``post_process_masks`` rule (one bilinear resize).
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from transformers import (
    AutoConfig,
    PreTrainedModel,
    Sam2Model,
    SamHQModel,
    SamHQProcessor,
    SamModel,
    SamProcessor,
)

from samrs_hf.checkpoints import cache_only
from samrs_hf.labeling.sam_frame import SamFrame

__all__ = ["BACKENDS", "Sam2Backend", "SamBackend", "SamHQBackend", "load_backend"]

Embeddings = tuple[torch.Tensor, ...]


def _image_embeddings(model: PreTrainedModel, pixel_values: torch.Tensor):
    """``model.get_image_embeddings(pixel_values)`` without its ``no_grad`` decorator, so that an encoder being
    trained gets gradients (the labeler runs it under ``inference_mode`` anyway)."""
    return inspect.unwrap(type(model).get_image_embeddings)(model, pixel_values)


class SamBackend:
    """SAM: ``SamModel`` with ``SamProcessor``'s resize-longest-side-and-pad frame."""

    family = "SAM"
    model_class: type[PreTrainedModel] = SamModel
    processor_class = SamProcessor

    def __init__(self, model: PreTrainedModel, checkpoint: str):
        self.model = model
        self.processor = self.processor_class.from_pretrained(checkpoint)
        self.frame = SamFrame.from_image_processor(self.processor.image_processor)

    def save_pretrained(self, folder: str | Path) -> None:
        """The model (safetensors, ``config.json``) and its preprocessing configuration, loadable as a checkpoint."""
        self.model.save_pretrained(folder)
        self.processor.save_pretrained(folder)

    def pixel_values(self, images: Sequence[Image.Image | np.ndarray]) -> torch.Tensor:
        """``(n, 3, H, W)`` model inputs of ``images`` (the processor's own preprocessing)."""
        return self.processor(images=list(images), return_tensors="pt")["pixel_values"]

    def encode(self, pixel_values: torch.Tensor) -> Embeddings:
        return (_image_embeddings(self.model, pixel_values),)

    def decode_prompts(
        self, embeddings: Embeddings, inputs: dict[str, torch.Tensor], multimask: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``(n, k, *mask_size)`` and predicted IoUs ``(n, k)`` of ``n`` prompts on one image (``k`` = 3
        with ``multimask``, else 1); ``inputs`` are :meth:`~samrs_hf.labeling.prompts.SamPrompts.chunk`'s, on the
        model's device.

        Point/box prompts go in as one image with ``n`` prompts (SAM's point batch, saving ``n`` copies of
        the embedding). Mask inputs need one batch row per prompt: transformers' decoders add the dense
        embedding before repeating the image per prompt.
        """
        n = len(next(iter(inputs.values())))
        if "input_masks" in inputs:
            dtype = embeddings[0].dtype
            inputs = {**inputs, "input_masks": inputs["input_masks"].to(dtype)}
            embeddings = tuple(t.expand(n, *t.shape[1:]) for t in embeddings)
        else:  # (n, 1, ...) -> (1, n, ...)
            inputs = {k: v.transpose(0, 1) for k, v in inputs.items()}
        masks, scores = self.decode(embeddings, inputs, multimask)
        k = masks.shape[2]
        return masks.reshape(n, k, *masks.shape[-2:]), scores.reshape(n, k)

    def decode(self, embeddings: Embeddings, inputs: dict, multimask: bool) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.model(image_embeddings=embeddings[0], multimask_output=multimask, **inputs)
        return out.pred_masks, out.iou_scores


class SamHQBackend(SamBackend):
    """SAM-HQ: SAM's frame; the decoder also reads the ViT's early features (``hq_token_only=False``:
    the HQ mask is added to SAM's, the model's default)."""

    family = "SAM-HQ"
    model_class = SamHQModel
    processor_class = SamHQProcessor

    def encode(self, pixel_values: torch.Tensor) -> Embeddings:
        embeddings, intermediate = _image_embeddings(self.model, pixel_values)
        return (embeddings, *intermediate)

    def decode(self, embeddings: Embeddings, inputs: dict, multimask: bool) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.model(
            image_embeddings=embeddings[0],
            intermediate_embeddings=list(embeddings[1:]),
            multimask_output=multimask,
            **inputs,
        )
        return out.pred_masks, out.iou_scores


class Sam2Backend(SamBackend):
    """SAM 2: a fixed 1024x1024 square resize (no padding); three feature levels per image."""

    family = "SAM 2"
    model_class = Sam2Model

    def __init__(self, model: PreTrainedModel, checkpoint: str):
        self.model = model
        self.settings = settings = _preprocessor_settings(checkpoint)
        size = settings.get("size", {"height": 1024, "width": 1024})
        self.size = (int(size["height"]), int(size["width"]))
        self.mean = torch.tensor(settings.get("image_mean", (0.485, 0.456, 0.406)))[:, None, None]
        self.std = torch.tensor(settings.get("image_std", (0.229, 0.224, 0.225)))[:, None, None]
        mask = settings.get("mask_size", {"height": 256, "width": 256})
        self.frame = SamFrame(pad_size=self.size, mask_size=(int(mask["height"]), int(mask["width"])), square=True)

    def save_pretrained(self, folder: str | Path) -> None:
        self.model.save_pretrained(folder)
        text = json.dumps(self.settings, indent=2)
        (Path(folder) / "preprocessor_config.json").write_text(text, encoding="utf-8")

    def pixel_values(self, images: Sequence[Image.Image | np.ndarray]) -> torch.Tensor:
        out = []
        for image in images:
            pixels = torch.from_numpy(np.array(image.convert("RGB") if isinstance(image, Image.Image) else image))
            pixels = pixels.permute(2, 0, 1)[None].float()
            pixels = F.interpolate(pixels, self.size, mode="bilinear", align_corners=False, antialias=True)
            pixels = pixels.round().clamp(0, 255)[0] / 255.0
            out.append((pixels - self.mean) / self.std)
        return torch.stack(out)

    def encode(self, pixel_values: torch.Tensor) -> Embeddings:
        return tuple(_image_embeddings(self.model, pixel_values))

    def decode(self, embeddings: Embeddings, inputs: dict, multimask: bool) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.model(image_embeddings=list(embeddings), multimask_output=multimask, **inputs)
        return out.pred_masks, out.iou_scores


BACKENDS: dict[str, type[SamBackend]] = {"sam": SamBackend, "sam_hq": SamHQBackend, "sam2": Sam2Backend}
"""Backend by the checkpoint's ``model_type``."""


def _preprocessor_settings(checkpoint: str) -> dict:
    """The checkpoint's ``preprocessor_config.json`` (empty when it has none)."""
    if os.path.isdir(checkpoint):
        path = Path(checkpoint) / "preprocessor_config.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    try:
        return json.loads(Path(hf_hub_download(checkpoint, "preprocessor_config.json")).read_text(encoding="utf-8"))
    except EntryNotFoundError:
        return {}


def load_backend(checkpoint: str, device: torch.device, dtype: torch.dtype) -> SamBackend:
    """The backend of ``checkpoint`` (a Hub id or a folder, already checked), its model in eval mode on ``device``."""
    model_type = AutoConfig.from_pretrained(checkpoint).model_type
    if model_type not in BACKENDS:
        families = ", ".join(f"{b.family} ({name})" for name, b in BACKENDS.items())
        raise ValueError(
            f"--model {checkpoint} is a {model_type!r} checkpoint; samrs labels with {families} image models"
        )
    backend = BACKENDS[model_type]
    model, info = backend.model_class.from_pretrained(
        checkpoint, dtype=dtype, output_loading_info=True, local_files_only=cache_only(checkpoint)
    )
    problems = {key: sorted(info[key]) for key in ("missing_keys", "unexpected_keys", "mismatched_keys") if info[key]}
    if problems:
        summary = "; ".join(
            f"{key.replace('_', ' ')}: {', '.join(map(str, names[:5]))}" for key, names in problems.items()
        )
        raise ValueError(f"--model {checkpoint}: its weights do not fit {backend.model_class.__name__} ({summary})")
    return backend(model.to(device).eval(), checkpoint)
