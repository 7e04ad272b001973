"""Saved SEP models carry their code: they load with only torch + transformers (``trust_remote_code=True``),
and with samrs-hf's own classes after ``import samrs_hf``."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from transformers import ResNetConfig, ViTConfig

from samrs_hf.training import SepConfig, SepModel
from samrs_hf.training.backbones import STAGES
from samrs_hf.training.publish import model_card

HEADS = {"sota": ["a", "b"], "fast": ["x", "y", "z"]}

BACKBONE_CONFIGS = {
    "resnet": ResNetConfig(
        embedding_size=8, hidden_sizes=[8, 8, 16, 16], depths=[1, 1, 1, 1], layer_type="basic", out_features=STAGES
    ),
    "vit": ViTConfig(
        hidden_size=16, num_hidden_layers=4, num_attention_heads=2, intermediate_size=32, image_size=32, patch_size=16
    ),
}

LOAD_WITHOUT_SAMRS_HF = """
import sys
sys.modules["samrs_hf"] = None  # any import of samrs_hf raises ImportError
import pytest
import torch
from transformers import AutoModel

torch.set_num_threads(1)
inputs, *folders = sys.argv[1:]
for folder in folders:
    model = AutoModel.from_pretrained(folder, trust_remote_code=True).eval()
    with torch.no_grad():
        logits = model(torch.load(inputs), head="fast").logits
    torch.save({"logits": logits, "module": type(model).__module__}, folder + ".out.pt")
"""

MODELS = {"resnet-unet": ("resnet", "unet"), "vit-upernet": ("vit", "upernet")}


def tiny_model(backbone: str, decoder: str) -> SepModel:
    torch.manual_seed(0)
    config = SepConfig(backbone_config=BACKBONE_CONFIGS[backbone], decoder=decoder, decoder_channels=8, heads=HEADS)
    return SepModel(config).eval()


def test_loads_in_a_python_without_samrs_hf(tmp_path):
    """One subprocess that cannot import samrs_hf loads a ResNet + UNet and a ViT + UperNet model."""
    models = {name: tiny_model(*parts) for name, parts in MODELS.items()}
    for name, model in models.items():
        model.save_pretrained(tmp_path / name)
        assert {"modeling.py", "backbones.py", "decoders.py"} <= {p.name for p in (tmp_path / name).iterdir()}
        config = json.loads((tmp_path / name / "config.json").read_text())
        assert config["auto_map"] == {"AutoConfig": "modeling.SepConfig", "AutoModel": "modeling.SepModel"}

    x = torch.randn(2, 3, 64, 48)
    torch.save(x, tmp_path / "inputs.pt")
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    env = {**os.environ, "PYTHONPATH": "", "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-c", LOAD_WITHOUT_SAMRS_HF, str(tmp_path / "inputs.pt")]
    command += [str(tmp_path / name) for name in models]
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=workdir, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    for name, model in models.items():
        loaded = torch.load(tmp_path / f"{name}.out.pt")
        assert loaded["module"].startswith("transformers_modules.")  # the folder's copy of modeling.py
        with torch.no_grad():
            expected = model(x, head="fast").logits
        assert loaded["logits"].shape == (2, 3, 64, 48)
        torch.testing.assert_close(loaded["logits"], expected)  # same weights; products may round apart by 1e-6


@pytest.mark.parametrize("first", ["samrs_hf", "transformers"])
def test_import_samrs_hf_is_enough_for_automodel_in_either_order(tmp_path, first):
    """A fresh process: ``import samrs_hf`` before or after transformers, then AutoModel without remote code."""
    tiny_model("resnet", "unet").save_pretrained(tmp_path)
    second = "transformers" if first == "samrs_hf" else "samrs_hf"
    script = (
        f"import sys, {first}, {second}\n"
        "from transformers import AutoModel\n"
        f"model = AutoModel.from_pretrained({str(tmp_path)!r})\n"
        "print(type(model).__module__, type(model).__name__)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True)
    assert result.stdout.split() == ["samrs_hf.training.modeling", "SepModel"]


def test_importing_samrs_hf_leaves_transformers_unloaded():
    """``samrs --help`` and argument errors must not pay for transformers and torch."""
    script = "import sys, samrs_hf, samrs_hf.cli; print('transformers' in sys.modules, 'torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.split() == ["False", "False"]


def test_card_shows_both_ways_of_loading():
    card = str(model_card(tiny_model("vit", "upernet"), "org/samrs", {"steps": 2}, {}, "org/sep-vit"))
    assert 'AutoModel.from_pretrained("org/sep-vit", trust_remote_code=True)' in card
    assert "import samrs_hf" in card and 'AutoModel.from_pretrained("org/sep-vit")\n' in card
    assert 'head="sota"' in card and "# vit + upernet" in card
    assert "datasets:\n- org/samrs" in card
