"""ViT-B for SEP: transformers' ViTModel + mmseg's multi-level neck as a four-stage backbone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from transformers import ViTConfig, ViTForImageClassification, ViTModel

from samrs_hf.training import SepConfig, SepModel, build_sep_model
from samrs_hf.training.backbones import ViTPyramid, backbone_config, load_backbone_weights

ROOT = Path(__file__).resolve().parents[2]
HEADS = {"sota": ["a", "b"], "fast": ["x", "y", "z"]}


def tiny_vit_config(**overrides) -> ViTConfig:
    settings = dict(
        hidden_size=16, num_hidden_layers=4, num_attention_heads=2, intermediate_size=32, image_size=32, patch_size=16
    )
    return ViTConfig(**{**settings, **overrides})


def tiny_vit_model(decoder: str = "upernet") -> SepModel:
    torch.manual_seed(0)
    return SepModel(SepConfig(backbone_config=tiny_vit_config(), decoder=decoder, decoder_channels=8, heads=HEADS))


@pytest.fixture(scope="module")
def vit_dir(tmp_path_factory):
    """A tiny random ViT (config + safetensors) saved by ``ViTModel``, as a ``--backbone`` folder."""
    torch.manual_seed(1)
    folder = tmp_path_factory.mktemp("vit")
    ViTModel(tiny_vit_config(), add_pooling_layer=False).save_pretrained(folder)
    return folder


def test_four_strides_from_blocks_quarter_half_three_quarters_and_last():
    model = tiny_vit_model().eval()
    assert model.backbone.out_layers == [1, 2, 3]  # + the last block, through the final LayerNorm
    x = torch.randn(2, 3, 96, 64)  # not the config's 32: position embeddings are interpolated
    maps = model.backbone(x).feature_maps
    assert [tuple(m.shape) for m in maps] == [(2, 16, 24, 16), (2, 16, 12, 8), (2, 16, 6, 4), (2, 16, 3, 2)]
    vit = model.backbone.vit(x, output_hidden_states=True, interpolate_pos_encoding=True)
    neck = model.backbone.neck
    stage3 = vit.hidden_states[3][:, 1:].transpose(1, 2).reshape(2, 16, 6, 4)
    assert torch.allclose(maps[2], neck.convs[2](neck.lateral_convs[2](stage3)), atol=1e-6)  # stride 16: no resize
    assert model(x, head="fast").logits.shape == (2, 3, 96, 64)


@pytest.mark.parametrize("decoder", ["upernet", "unet"])
def test_training_steps_reduce_the_loss_and_reach_every_weight(decoder):
    model = tiny_vit_model(decoder).train()
    torch.manual_seed(0)
    x = torch.randn(4, 3, 32, 32)
    labels = torch.cat([torch.randint(0, 2, (2, 32, 32)), torch.randint(0, 3, (2, 32, 32))])
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(8):
        loss = model(x, labels=labels, head_sizes={"sota": 2, "fast": 2}).loss
        optimizer.zero_grad()
        loss.backward()
        if not losses:
            unused = [name for name, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum()]
            assert not unused  # DDP needs every parameter in the graph
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_save_reload_identical_outputs(tmp_path):
    model = tiny_vit_model().eval()
    model.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())["backbone_config"]
    assert saved["model_type"] == "vit" and saved["num_hidden_layers"] == 4
    loaded = SepModel.from_pretrained(tmp_path, use_safetensors=True).eval()
    assert isinstance(loaded.backbone, ViTPyramid) and loaded.config.backbone_config.hidden_size == 16
    x = torch.randn(1, 3, 48, 48)
    # same weights; matrix products may round differently (1e-6) with the memory layout of the loaded tensors
    torch.testing.assert_close(loaded(x, head="sota").logits, model(x, head="sota").logits)


def test_backbone_folder_config_and_weights(vit_dir):
    assert isinstance(backbone_config(str(vit_dir)), ViTConfig)
    reference = ViTModel.from_pretrained(vit_dir, add_pooling_layer=False).state_dict()
    model = build_sep_model(str(vit_dir), "unet", HEADS, pretrained_backbone=True, decoder_channels=8)
    mine = model.backbone.vit.state_dict()
    assert mine.keys() == reference.keys() and all(torch.equal(mine[k], reference[k]) for k in mine)


LEGACY_VIT_NAMES = [  # transformers 5 name -> name in Google's ViT checkpoints on the Hub
    ("layers.", "encoder.layer."),
    ("attention.q_proj", "attention.attention.query"),
    ("attention.k_proj", "attention.attention.key"),
    ("attention.v_proj", "attention.attention.value"),
    ("attention.o_proj", "attention.output.dense"),
    ("mlp.fc1", "intermediate.dense"),
    ("mlp.fc2", "output.dense"),
]


def test_imagenet_checkpoint_in_the_hub_layout_loads_strictly(tmp_path):
    """A classification checkpoint named as ``google/vit-base-patch16-224`` stores it (``vit.encoder.layer.N
    .attention.attention.query``, a ``classifier``): every backbone weight arrives, the head is left out."""
    torch.manual_seed(2)
    classifier = ViTForImageClassification(tiny_vit_config(num_labels=5))
    state = {}
    for name, value in classifier.state_dict().items():
        for new, old in LEGACY_VIT_NAMES:
            name = name.replace(new, old)
        state[name] = value.contiguous()
    assert "vit.encoder.layer.0.attention.attention.query.weight" in state and "classifier.weight" in state
    save_file(state, tmp_path / "model.safetensors", metadata={"format": "pt"})
    classifier.config.save_pretrained(tmp_path)

    backbone = ViTPyramid(tiny_vit_config())
    load_backbone_weights(backbone, str(tmp_path))
    expected = classifier.vit.state_dict()
    assert all(torch.equal(value, expected[name]) for name, value in backbone.vit.state_dict().items())

    with pytest.raises(ValueError, match="do not fit"):
        load_backbone_weights(ViTPyramid(tiny_vit_config(num_hidden_layers=5)), str(tmp_path))


def test_vit_b_architecture_at_224():
    """The real ViT-B/16 (built on the meta device: sizes and shapes without computing)."""
    config = backbone_config("vit-b")
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads) == (768, 12, 12)
    assert (config.patch_size, config.image_size, config.intermediate_size) == (16, 224, 3072)
    with torch.device("meta"):
        model = SepModel(SepConfig(backbone_config=config, decoder="upernet", heads=HEADS))
        maps = model.backbone(torch.empty(2, 3, 224, 224)).feature_maps
        logits = model(torch.empty(2, 3, 224, 224), head="fast").logits
    assert model.backbone.out_layers == [3, 6, 9]  # mmseg's out_indices (2, 5, 8, 11), 0-based, + the last
    assert sum(p.numel() for p in model.backbone.vit.parameters()) == 85_798_656  # ViT-B/16 without pooler/head
    assert [tuple(m.shape) for m in maps] == [(2, 768, 56, 56), (2, 768, 28, 28), (2, 768, 14, 14), (2, 768, 7, 7)]
    assert tuple(logits.shape) == (2, 3, 224, 224)


def test_accelerate_launch_pretrains_with_a_vit_folder(samrs_dir, vit_dir, tmp_path):
    out = tmp_path / "vit-sep"
    command = [sys.executable, "-m", "accelerate.commands.launch", "--cpu", "--num_processes", "1"]
    command += ["--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    command += [str(ROOT / "examples" / "pretrain_sep.py"), "--dataset", str(samrs_dir), "--backbone", str(vit_dir)]
    command += ["--no-pretrained-backbone", "--decoder-channels", "8", "--batch-size", "6", "--max-steps", "2"]
    command += ["--crop-size", "32", "--output-dir", str(out), "--eval-steps", "0", "--checkpointing-steps", "0"]
    command += ["--num-workers", "0"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    start = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    print(f"accelerate launch, tiny ViT, 2 steps: {time.monotonic() - start:.1f} s")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count(f"saved the model and its card to {out}") == 1
    model = SepModel.from_pretrained(out, use_safetensors=True)
    assert isinstance(model.backbone, ViTPyramid) and sorted(model.config.heads) == ["fast", "sior", "sota"]
