"""Small, randomly initialised SAM, SAM-HQ and SAM 2 checkpoints for offline tests, demos and benchmarks.

They have their family's real input frame (1024x1024 inputs, 256x256 masks and mask inputs) and
architecture, with narrow layers, so every code path that serves ``facebook/sam-vit-huge``,
``syscv-community/sam-hq-vit-huge`` or ``facebook/sam2.1-hiera-large`` runs on them in seconds on
a CPU. Their masks are meaningless.
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

__all__ = ["FAMILIES", "VIT_BASE_VISION", "save_sam", "save_tiny_sam", "tiny_sam_config"]

VIT_BASE_VISION = dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, global_attn_indexes=[2, 5, 8, 11])
"""The image-encoder sizes of ``facebook/sam-vit-base`` (for benchmarks with random weights)."""


def tiny_sam_config(hidden_size: int = 32) -> SamConfig:
    """A SamConfig with SAM's frame and a few narrow layers."""
    return SamConfig(**_tiny_sam_parts(hidden_size))


def _tiny_sam_parts(hidden_size: int) -> dict:
    return dict(
        vision_config=dict(
            hidden_size=hidden_size,
            output_channels=hidden_size,
            num_hidden_layers=2,
            num_attention_heads=2,
            global_attn_indexes=[1],
            window_size=7,
            mlp_dim=hidden_size * 2,
            num_pos_feats=hidden_size // 2,
        ),
        prompt_encoder_config=dict(hidden_size=hidden_size),
        mask_decoder_config=dict(
            hidden_size=hidden_size, mlp_dim=hidden_size * 2, num_attention_heads=2, iou_head_hidden_dim=hidden_size
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
    standard preprocessing (longest side 1024 padded to 1024x1024 for SAM and SAM-HQ; a 1024x1024
    resize with ImageNet normalisation for SAM 2)."""
    path = Path(path)
    torch.manual_seed(seed)
    model_class(config).eval().save_pretrained(path)
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
        processor(image_processor=SamImageProcessorPil()).save_pretrained(path)
    return path


def save_tiny_sam(path: str | Path, seed: int = 0, family: str = "sam") -> Path:
    """Write a tiny random checkpoint of ``family`` (``sam``, ``sam_hq`` or ``sam2``) to ``path``."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; choose from {', '.join(FAMILIES)}")
    model_class, config = FAMILIES[family]
    return save_sam(path, config(), seed=seed, model_class=model_class)
