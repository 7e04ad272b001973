"""SAM, SAM-HQ and SAM 2 image checkpoints behind one interface: preprocess, encode, decode.

The family comes from the checkpoint's own ``config.json`` (``model_type``), and the weights are
loaded strictly into that family's transformers class: a checkpoint loaded into the wrong class,
or with missing or unexpected weights, is an error, never a silent fallback.

========  ===============  ==========================================  =================================
family    model_type       transformers classes                        Hub ids (examples)
========  ===============  ==========================================  =================================
SAM       ``sam``          ``SamModel`` + ``SamProcessor``              facebook/sam-vit-huge, -large, -base
SAM-HQ    ``sam_hq``       ``SamHQModel`` + ``SamHQProcessor``          syscv-community/sam-hq-vit-huge, -base
SAM 2     ``sam2``         ``Sam2Model`` + ``Sam2ImageProcessor``       facebook/sam2.1-hiera-large, -small, -tiny
========  ===============  ==========================================  =================================

A family is one backend class here: its model and processor classes, its input frame, how it
encodes and decodes, what ``compile`` compiles, and a tiny random configuration of its real frame
for offline tests (:meth:`SamBackend.tiny_config`, ``samrs tiny-sam --family``). :data:`BACKENDS`
registers it by ``model_type``; everything else (the labeler, the CLI's choices, the tiny
checkpoints) reads the registry. Each backend keeps a batch of image embeddings as a tuple of
tensors with the images on dim 0: SAM's embedding; SAM-HQ's embedding and its ViT's early
features; SAM 2's three feature levels.

SAM 2's image processor (``Sam2ImageProcessor``) needs torchvision. Where torchvision imports,
:class:`Sam2Backend` preprocesses with it; elsewhere (it does not install beside the CPU torch this
project pins) it does what that processor does, written out: torchvision's resize of the uint8
image (:func:`resize_like_torchvision`), then the processor's fused rescale and normalisation.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from transformers import (
    AutoConfig,
    ImageProcessingMixin,
    PreTrainedConfig,
    PreTrainedModel,
    Sam2Config,
    Sam2HieraDetConfig,
    Sam2Model,
    Sam2VisionConfig,
    SamConfig,
    SamHQConfig,
    SamHQModel,
    SamHQProcessor,
    SamImageProcessorPil,
    SamModel,
    SamProcessor,
)
from transformers.utils import is_torchvision_available

from samrs_hf.checkpoints import cache_only
from samrs_hf.labeling.sam_frame import SamFrame

__all__ = ["BACKENDS", "Sam2Backend", "SamBackend", "SamHQBackend", "load_backend", "resize_like_torchvision"]

Embeddings = tuple[torch.Tensor, ...]


def _image_embeddings(model: PreTrainedModel, pixel_values: torch.Tensor):
    """``model.get_image_embeddings(pixel_values)`` without its ``no_grad`` decorator, so that an encoder being
    trained gets gradients (the labeler runs it under ``inference_mode`` anyway)."""
    return inspect.unwrap(type(model).get_image_embeddings)(model, pixel_values)


def tiny_sam_parts(
    hidden_size: int = 32, image_size: int = 1024, num_layers: int = 2, heads: int = 2, mlp_ratio: int = 2
) -> dict:
    """The sub-configurations of a small SAM: ``image_size`` inputs, ``num_layers`` ViT blocks in windows but the
    last (global), ``hidden_size`` wide."""
    return dict(
        vision_config=dict(
            hidden_size=hidden_size,
            output_channels=hidden_size,
            num_hidden_layers=num_layers,
            num_attention_heads=heads,
            global_attn_indexes=[num_layers - 1],
            window_size=7 if image_size == 1024 else 8,
            mlp_dim=hidden_size * mlp_ratio,
            num_pos_feats=hidden_size // 2,
            image_size=image_size,
        ),
        prompt_encoder_config=dict(hidden_size=hidden_size, image_size=image_size),
        mask_decoder_config=dict(
            hidden_size=hidden_size,
            mlp_dim=hidden_size * mlp_ratio,
            num_attention_heads=heads,
            iou_head_hidden_dim=hidden_size,
        ),
    )


def sam_image_processor(config: SamConfig | SamHQConfig) -> SamImageProcessorPil:
    """SAM's image processor for ``config``'s input frame: longest side resized to the encoder's
    ``image_size`` and padded to a square of it; masks and mask prompts on the decoder's grid (4x the
    patch grid)."""
    size = int(config.vision_config.image_size)
    grid = 4 * size // int(config.vision_config.patch_size)
    return SamImageProcessorPil(
        size={"longest_edge": size},
        pad_size={"height": size, "width": size},
        mask_size={"longest_edge": grid},
        mask_pad_size={"height": grid, "width": grid},
    )


class SamBackend:
    """SAM: ``SamModel`` with ``SamProcessor``'s resize-longest-side-and-pad frame."""

    model_type = "sam"
    family = "SAM"
    model_class: type[PreTrainedModel] = SamModel
    processor_class = SamProcessor

    def __init__(self, model: PreTrainedModel, checkpoint: str):
        self.model = model
        self.processor = self.processor_class.from_pretrained(checkpoint)
        self.frame = SamFrame.from_image_processor(self.processor.image_processor)

    @classmethod
    def tiny_config(cls) -> PreTrainedConfig:
        """The family's real input frame (1024x1024 inputs, 256x256 masks) with a few narrow layers: every code
        path of the real checkpoints runs on it in seconds on a CPU (its masks are meaningless)."""
        return SamConfig(**tiny_sam_parts())

    @classmethod
    def save_preprocessing(cls, folder: Path, config: PreTrainedConfig) -> None:
        """The family's standard preprocessing for ``config``'s frame, written beside weights in ``folder``."""
        cls.processor_class(image_processor=sam_image_processor(config)).save_pretrained(folder)

    def save_pretrained(self, folder: str | Path) -> None:
        """The model (safetensors, ``config.json``) and its preprocessing configuration, loadable as a checkpoint."""
        self.model.save_pretrained(folder)
        self.processor.save_pretrained(folder)

    def compile(self, backend: str = "inductor") -> None:
        """``torch.compile`` the image encoder and the mask decoder (the parts that run per image and per chunk)."""
        self.model.vision_encoder.compile(backend=backend)
        self.model.mask_decoder.compile(backend=backend)

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

    model_type = "sam_hq"
    family = "SAM-HQ"
    model_class = SamHQModel
    processor_class = SamHQProcessor

    @classmethod
    def tiny_config(cls) -> PreTrainedConfig:
        """SAM's tiny sizes; the HQ decoder reads the ViT's early features, ``vit_dim`` wide."""
        parts = tiny_sam_parts()
        parts["mask_decoder_config"]["vit_dim"] = parts["vision_config"]["hidden_size"]
        return SamHQConfig(**parts)

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


def resize_like_torchvision(pixels: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``torchvision.transforms.v2.functional.resize`` of a uint8 ``(n, 3, H, W)`` CPU tensor to ``size``,
    bilinear with antialiasing: torchvision resizes uint8 natively on a CPU whose capability reads AVX2, and
    elsewhere in float32, rounded back to uint8 (``_do_native_uint8_resize_on_cpu``, torchvision 0.2x)."""
    if "AVX2" in torch.backends.cpu.get_cpu_capability():
        return F.interpolate(pixels, size, mode="bilinear", align_corners=False, antialias=True)
    resized = F.interpolate(pixels.float(), size, mode="bilinear", align_corners=False, antialias=True)
    return resized.round_().to(torch.uint8)


SAM2_PREPROCESSING = {
    "image_processor_type": "Sam2ImageProcessor",
    "size": {"height": 1024, "width": 1024},
    "mask_size": {"height": 256, "width": 256},
    "image_mean": [0.485, 0.456, 0.406],
    "image_std": [0.229, 0.224, 0.225],
    "rescale_factor": 1 / 255,
    "resample": 2,
}
"""``Sam2ImageProcessor``'s settings in the released checkpoints (``resample`` 2: bilinear), the ones a checkpoint's
``preprocessor_config.json`` leaves out."""


class Sam2Backend(SamBackend):
    """SAM 2: a fixed 1024x1024 square resize (no padding); three feature levels per image."""

    model_type = "sam2"
    family = "SAM 2"
    model_class = Sam2Model

    def __init__(self, model: PreTrainedModel, checkpoint: str):
        self.model = model
        self.settings, _ = ImageProcessingMixin.get_image_processor_dict(checkpoint)
        settings = {**SAM2_PREPROCESSING, **self.settings}
        if settings["resample"] != 2 and not is_torchvision_available():
            raise ValueError(
                f"--model {checkpoint}: its preprocessing resamples with mode {settings['resample']}; without "
                "torchvision samrs-hf resizes SAM 2 inputs bilinearly (mode 2) only"
            )
        self.size = (int(settings["size"]["height"]), int(settings["size"]["width"]))
        mask = settings["mask_size"]
        self.frame = SamFrame(pad_size=self.size, mask_size=(int(mask["height"]), int(mask["width"])), square=True)
        # the processor's fused rescale and normalisation: (x - mean / rescale) / (std / rescale), in float32
        self.mean = torch.tensor(settings["image_mean"]) * (1.0 / settings["rescale_factor"])
        self.std = torch.tensor(settings["image_std"]) * (1.0 / settings["rescale_factor"])
        self.processor = None
        if is_torchvision_available():
            from transformers import Sam2ImageProcessor

            self.processor = Sam2ImageProcessor.from_dict(self.settings)

    @classmethod
    def tiny_config(cls) -> PreTrainedConfig:
        """Hiera with one block per stage but two in the third (a global-attention block may not open a stage)."""
        hiera = Sam2HieraDetConfig(
            hidden_size=16,
            embed_dim_per_stage=[16, 32, 64, 128],
            blocks_per_stage=[1, 1, 2, 1],
            num_attention_heads_per_stage=[1, 1, 1, 1],
            global_attention_blocks=[3],
        )
        vision = Sam2VisionConfig(backbone_config=hiera, backbone_channel_list=[128, 64, 32, 16], fpn_hidden_size=32)
        decoder = dict(hidden_size=32, mlp_dim=64, num_attention_heads=2, iou_head_hidden_dim=32)
        return Sam2Config(vision_config=vision, prompt_encoder_config=dict(hidden_size=32), mask_decoder_config=decoder)

    @classmethod
    def save_preprocessing(cls, folder: Path, config: PreTrainedConfig) -> None:
        text = json.dumps(SAM2_PREPROCESSING, indent=2)
        (Path(folder) / "preprocessor_config.json").write_text(text, encoding="utf-8")

    def save_pretrained(self, folder: str | Path) -> None:
        self.model.save_pretrained(folder)
        (Path(folder) / "preprocessor_config.json").write_text(json.dumps(self.settings, indent=2), encoding="utf-8")

    def pixel_values(self, images: Sequence[Image.Image | np.ndarray]) -> torch.Tensor:
        """The processor's ``pixel_values`` where torchvision imports, else the same computation written out."""
        if self.processor is not None:
            return self.processor(images=list(images), return_tensors="pt")["pixel_values"]
        out = []
        for image in images:
            rgb = np.array(image.convert("RGB") if isinstance(image, Image.Image) else image)
            pixels = resize_like_torchvision(torch.from_numpy(rgb).permute(2, 0, 1)[None], self.size)[0]
            out.append(pixels.float().sub_(self.mean[:, None, None]).div_(self.std[:, None, None]))
        return torch.stack(out)

    def encode(self, pixel_values: torch.Tensor) -> Embeddings:
        return tuple(_image_embeddings(self.model, pixel_values))

    def decode(self, embeddings: Embeddings, inputs: dict, multimask: bool) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.model(image_embeddings=list(embeddings), multimask_output=multimask, **inputs)
        return out.pred_masks, out.iou_scores


BACKENDS: dict[str, type[SamBackend]] = {
    backend.model_type: backend for backend in (SamBackend, SamHQBackend, Sam2Backend)
}
"""Backend by the checkpoint's ``model_type``: the one list of SAM families."""


def load_backend(checkpoint: str, device: torch.device, dtype: torch.dtype) -> SamBackend:
    """The backend of ``checkpoint`` (a Hub id or a folder, already checked), its model in eval mode on ``device``."""
    local_only = cache_only(checkpoint)
    model_type = AutoConfig.from_pretrained(checkpoint, local_files_only=local_only).model_type
    if model_type not in BACKENDS:
        families = ", ".join(f"{b.family} ({name})" for name, b in BACKENDS.items())
        raise ValueError(
            f"--model {checkpoint} is a {model_type!r} checkpoint; samrs labels with {families} image models"
        )
    backend = BACKENDS[model_type]
    model, info = backend.model_class.from_pretrained(
        checkpoint, dtype=dtype, output_loading_info=True, local_files_only=local_only
    )
    problems = {key: sorted(info[key]) for key in ("missing_keys", "unexpected_keys", "mismatched_keys") if info[key]}
    if problems:
        summary = "; ".join(
            f"{key.replace('_', ' ')}: {', '.join(map(str, names[:5]))}" for key, names in problems.items()
        )
        raise ValueError(f"--model {checkpoint}: its weights do not fit {backend.model_class.__name__} ({summary})")
    return backend(model.to(device).eval(), checkpoint)
