"""Small, randomly initialised SAM-family checkpoints for offline tests, demos and benchmarks.

The tiny ones are each family's :meth:`~samrs_hf.labeling.backends.SamBackend.tiny_config`: the
family's real input frame (1024x1024 inputs, 256x256 masks and mask inputs) and architecture, with
narrow layers, so every code path that serves ``facebook/sam-vit-huge``,
``syscv-community/sam-hq-vit-huge`` or ``facebook/sam2.1-hiera-large`` runs on them in seconds on a
CPU. Their masks are meaningless. :func:`small_sam_config` is the starting point of the embedded
model (``samrs_hf/models/sam-small-synthetic``): a smaller frame, trained from these random weights.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import PreTrainedConfig, SamConfig, SamModel

from samrs_hf.labeling.backends import BACKENDS, tiny_sam_parts

__all__ = ["VIT_BASE_VISION", "save_sam", "save_small_sam", "save_tiny_sam", "small_sam_config"]

VIT_BASE_VISION = dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, global_attn_indexes=[2, 5, 8, 11])
"""The image-encoder sizes of ``facebook/sam-vit-base`` (for benchmarks with random weights)."""


def small_sam_config(image_size: int = 384, hidden_size: int = 64, num_layers: int = 4) -> SamConfig:
    """A SamConfig sized to be trained from scratch on a CPU: ``image_size`` inputs (16-pixel patches, so
    ``image_size / 4`` masks), ``num_layers`` ViT blocks in 8x8 windows but the last (global), 64-wide heads.
    Its ViT is initialised at std 0.02 (transformers' ``SamVisionConfig`` default, 1e-10, suits loading
    weights, but leaves a ViT to be trained from scratch all but zero)."""
    parts = tiny_sam_parts(hidden_size, image_size, num_layers, heads=max(1, hidden_size // 64), mlp_ratio=4)
    parts["vision_config"]["initializer_range"] = 0.02
    return SamConfig(**parts)


def save_sam(path: str | Path, config: PreTrainedConfig, seed: int = 0) -> Path:
    """Build ``config``'s family's model with seeded random weights and save it with the family's standard
    preprocessing for its frame (:data:`~samrs_hf.labeling.backends.BACKENDS`, by ``config.model_type``)."""
    path, backend = Path(path), BACKENDS[config.model_type]
    torch.manual_seed(seed)
    backend.model_class(config).eval().save_pretrained(path)
    backend.save_preprocessing(path, config)
    return path


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
    BACKENDS["sam"].save_preprocessing(path, config)
    return path


def save_tiny_sam(path: str | Path, seed: int = 0, family: str = "sam") -> Path:
    """Write a tiny random checkpoint of ``family`` (a ``model_type`` of :data:`~samrs_hf.labeling.backends.BACKENDS`:
    ``sam``, ``sam_hq``, ``sam2``) to ``path``."""
    if family not in BACKENDS:
        raise ValueError(f"unknown family {family!r}; choose from {', '.join(BACKENDS)}")
    return save_sam(path, BACKENDS[family].tiny_config(), seed=seed)
