"""Small, randomly initialised SAM, SAM-HQ and SAM 2 checkpoints for offline tests, demos and benchmarks.

The tiny ones have their family's real input frame (1024x1024 inputs, 256x256 masks and mask inputs)
and architecture, with narrow layers, so every code path that serves ``facebook/sam-vit-huge``,
``syscv-community/sam-hq-vit-huge`` or ``facebook/sam2.1-hiera-large`` runs on them in seconds on
a CPU. Their masks are meaningless. :func:`small_sam_config` is the starting point of the embedded
model (:mod:`samrs_hf.samtuning.embedded`): a smaller frame, trained from these random weights.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import (
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

__all__ = [
    "FAMILIES",
    "VIT_BASE_VISION",
    "sam_image_processor",
    "save_sam",
    "save_small_sam",
    "save_tiny_sam",
    "small_sam_config",
    "tiny_sam_config",
]

VIT_BASE_VISION = dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, global_attn_indexes=[2, 5, 8, 11])
"""The image-encoder sizes of ``facebook/sam-vit-base`` (for benchmarks with random weights)."""


def tiny_sam_config(hidden_size: int = 32) -> SamConfig:
    """A SamConfig with SAM's frame and a few narrow layers."""
    return SamConfig(**_tiny_sam_parts(hidden_size))


def small_sam_config(image_size: int = 384, hidden_size: int = 64, num_layers: int = 4) -> SamConfig:
    """A SamConfig sized to be trained from scratch on a CPU: ``image_size`` inputs (16-pixel patches, so
    ``image_size / 4`` masks), ``num_layers`` ViT blocks in 8x8 windows but the last (global), 64-wide heads.
    Its ViT is initialised at std 0.02 (transformers' ``SamVisionConfig`` default, 1e-10, suits loading
    weights, but leaves a ViT to be trained from scratch all but zero)."""
    parts = _tiny_sam_parts(hidden_size, image_size, num_layers, heads=max(1, hidden_size // 64), mlp_ratio=4)
    parts["vision_config"]["initializer_range"] = 0.02
    return SamConfig(**parts)


def _tiny_sam_parts(
    hidden_size: int, image_size: int = 1024, num_layers: int = 2, heads: int = 2, mlp_ratio: int = 2
) -> dict:
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


def _tiny_sam_hq_config(hidden_size: int = 32) -> SamHQConfig:
    """SAM's tiny sizes; the HQ decoder reads the ViT's early features, ``vit_dim`` wide."""
    parts = _tiny_sam_parts(hidden_size)
    parts["mask_decoder_config"]["vit_dim"] = hidden_size
    return SamHQConfig(**parts)


def _tiny_sam2_config(hidden_size: int = 32) -> Sam2Config:
    """Hiera with one block per stage but two in the third (a global-attention block may not open a stage)."""
    hiera = Sam2HieraDetConfig(
        hidden_size=16,
        embed_dim_per_stage=[16, 32, 64, 128],
        blocks_per_stage=[1, 1, 2, 1],
        num_attention_heads_per_stage=[1, 1, 1, 1],
        global_attention_blocks=[3],
    )
    vision = Sam2VisionConfig(
        backbone_config=hiera, backbone_channel_list=[128, 64, 32, 16], fpn_hidden_size=hidden_size
    )
    decoder = dict(
        hidden_size=hidden_size, mlp_dim=hidden_size * 2, num_attention_heads=2, iou_head_hidden_dim=hidden_size
    )
    return Sam2Config(
        vision_config=vision, prompt_encoder_config=dict(hidden_size=hidden_size), mask_decoder_config=decoder
    )


FAMILIES = {
    "sam": (SamModel, lambda: tiny_sam_config()),
    "sam_hq": (SamHQModel, lambda: _tiny_sam_hq_config()),
    "sam2": (Sam2Model, _tiny_sam2_config),
}
"""Family name -> (model class, factory of a tiny config)."""


def save_sam(
    path: str | Path, config: PreTrainedConfig, seed: int = 0, model_class: type[PreTrainedModel] = SamModel
) -> Path:
    """Build ``model_class`` from ``config`` with seeded random weights and save it with its family's
    standard preprocessing (longest side ``image_size`` (1024) padded to a square for SAM and SAM-HQ; a
    1024x1024 resize with ImageNet normalisation for SAM 2)."""
    path = Path(path)
    torch.manual_seed(seed)
    model_class(config).eval().save_pretrained(path)
    return _save_preprocessing(path, config, model_class)


def save_small_sam(path: str | Path, seed: int = 0) -> Path:
    """Write :func:`small_sam_config`'s SAM with seeded random weights, the starting point of the embedded model.

    Its Fourier positional features are drawn at std 1, segment-anything's (``PositionEmbeddingRandom``,
    scale 1); transformers draws them at ``hidden_size / 2``, which, loaded weights aside, turns positions
    on a small grid into aliased noise.
    """
    path, config = Path(path), small_sam_config()
    torch.manual_seed(seed)
    model = SamModel(config).eval()
    with torch.no_grad():
        model.shared_image_embedding.positional_embedding.normal_(0.0, 1.0)
    model.save_pretrained(path)
    return _save_preprocessing(path, config, SamModel)


def _save_preprocessing(path: Path, config: PreTrainedConfig, model_class: type[PreTrainedModel]) -> Path:
    """The family's standard preprocessing for ``config``'s frame, beside the weights in ``path``."""
    if model_class is Sam2Model:
        settings = {
            "size": {"height": 1024, "width": 1024},
            "mask_size": {"height": 256, "width": 256},
            "image_mean": [0.485, 0.456, 0.406],
            "image_std": [0.229, 0.224, 0.225],
            "image_processor_type": "Sam2ImageProcessor",
        }
        (path / "preprocessor_config.json").write_text(json.dumps(settings, indent=2), encoding="utf-8")
    else:
        processor = SamHQProcessor if model_class is SamHQModel else SamProcessor
        processor(image_processor=sam_image_processor(config)).save_pretrained(path)
    return path


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


def save_tiny_sam(path: str | Path, seed: int = 0, family: str = "sam") -> Path:
    """Write a tiny random checkpoint of ``family`` (``sam``, ``sam_hq`` or ``sam2``) to ``path``."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; choose from {', '.join(FAMILIES)}")
    model_class, config = FAMILIES[family]
    return save_sam(path, config(), seed=seed, model_class=model_class)
