"""Fixtures of the training tests: one torch thread, a tiny SAMRS folder and a tiny backbone folder."""

from __future__ import annotations

import pytest
import torch
from samrs_folders import TINY_SIZES, learnable_row, write_samrs
from transformers import ResNetBackbone, ResNetConfig


@pytest.fixture(autouse=True)
def single_torch_thread():
    """One intra-op thread: on a shared 2-core machine, OpenMP threads spinning against other
    processes make these tiny convolutions hundreds of times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def samrs_dir(tmp_path_factory):
    """A SAMRS folder of :data:`TINY_SIZES` learnable rows."""
    return write_samrs(tmp_path_factory.mktemp("data") / "samrs", TINY_SIZES, learnable_row, rows_per_shard=8)


@pytest.fixture(scope="module")
def backbone_dir(tmp_path_factory):
    """A tiny random ResNet backbone (config + safetensors) that ``from_pretrained`` loads."""
    torch.manual_seed(123)
    config = ResNetConfig(
        embedding_size=8,
        hidden_sizes=[8, 16, 16, 16],
        depths=[1, 1, 1, 1],
        layer_type="basic",
        out_features=["stage1", "stage2", "stage3", "stage4"],
    )
    folder = tmp_path_factory.mktemp("backbone")
    ResNetBackbone(config).save_pretrained(folder)
    return folder
