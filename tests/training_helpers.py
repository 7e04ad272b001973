"""Test helpers for the training tests: a tiny SAMRS dataset folder and a tiny backbone folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from datasets import Dataset
from PIL import Image as PILImage
from transformers import ResNetBackbone, ResNetConfig

from samrs_hf.classes import SAMRS_RELEASE_CLASSES
from samrs_hf.hub import samrs_features



@pytest.fixture(autouse=True)
def single_torch_thread():
    """One intra-op thread: on a shared 2-core machine, OpenMP threads spinning against other
    processes make these tiny convolutions hundreds of times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


TINY_SIZES = {"sota": {"train": 4, "validation": 2}, "sior": {"train": 2, "validation": 2}, "fast": {"train": 6}}
"""Rows per config and split: unequal subset sizes, and FAST without a validation split."""


def tiny_row(rng: np.random.Generator, num_classes: int, index: int, size: int = 64) -> dict:
    """An image whose colour follows its blocky label map (learnable), with a 255 (unlabelled) band."""
    label = np.kron(rng.integers(0, num_classes, (4, 4)), np.ones((size // 4, size // 4), dtype=np.int64))
    label[:, : size // 8] = 255
    palette = rng.integers(0, 256, (256, 3))
    image = np.clip(palette[label] + rng.normal(0, 8, (size, size, 3)), 0, 255).astype(np.uint8)
    return {"image_id": f"img{index}", "image": PILImage.fromarray(image),
            "semantic_map": PILImage.fromarray(label.astype(np.uint8), mode="L"), "objects": [],
            "width": size, "height": size, "source": "tiny", "tile": [0, 0]}


def write_tiny_samrs(root: Path, sizes: dict = TINY_SIZES, seed: int = 0) -> Path:
    """A SAMRS folder in the dataset schema (``samrs_hf.hub.samrs_features``, no objects):
    ``{config}/{split}-r00-00000.parquet`` shards + README.md YAML ``configs:``."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    yaml = ["---", "configs:"]
    for config, splits in sizes.items():
        yaml += [f"- config_name: {config}", "  data_files:"]
        for split, rows in splits.items():
            n = len(SAMRS_RELEASE_CLASSES[config])
            data = [tiny_row(rng, n, i) for i in range(rows)]
            table = Dataset.from_list(data, features=samrs_features(config))
            (root / config).mkdir(exist_ok=True)
            table.to_parquet(str(root / config / f"{split}-r00-00000.parquet"))
            yaml += [f"  - split: {split}", f"    path: {config}/{split}-*.parquet"]
    (root / "README.md").write_text("\n".join(yaml + ["---", "# tiny SAMRS", ""]))
    return root


def write_tiny_backbone(folder: Path, seed: int = 0) -> Path:
    """A tiny random ResNet backbone (config + safetensors) that ``from_pretrained`` loads."""
    torch.manual_seed(seed)
    config = ResNetConfig(embedding_size=8, hidden_sizes=[8, 16, 16, 16], depths=[1, 1, 1, 1], layer_type="basic",
                          out_features=["stage1", "stage2", "stage3", "stage4"])
    ResNetBackbone(config).save_pretrained(folder)
    return folder
