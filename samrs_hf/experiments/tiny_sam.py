"""A small, randomly initialised SAM for offline tests, demos and benchmarks.

It has SAM's real input frame (1024x1024, 64x64 embeddings, 256x256 mask inputs) and
SAM's architecture, with narrow layers, so every code path that serves
``facebook/sam-vit-huge`` runs on it in seconds on a CPU. Its masks are meaningless.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import SamConfig, SamImageProcessorPil, SamModel, SamProcessor

VIT_BASE_VISION = dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, global_attn_indexes=[2, 5, 8, 11])
"""The image-encoder sizes of ``facebook/sam-vit-base`` (for benchmarks with random weights)."""


def tiny_sam_config(hidden_size: int = 32) -> SamConfig:
    """A SamConfig with SAM's frame and a few narrow layers."""
    return SamConfig(
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


def save_sam(path: str | Path, config: SamConfig, seed: int = 0) -> Path:
    """Build a SamModel from ``config`` with seeded random weights and save it with SAM's standard
    processor (longest side 1024, padded to 1024x1024, 256x256 masks)."""
    path = Path(path)
    torch.manual_seed(seed)
    SamModel(config).eval().save_pretrained(path)
    SamProcessor(image_processor=SamImageProcessorPil()).save_pretrained(path)
    return path


def save_tiny_sam(path: str | Path, seed: int = 0) -> Path:
    """Write a tiny random SAM (model + processor) to ``path`` and return it."""
    return save_sam(path, tiny_sam_config(), seed=seed)
