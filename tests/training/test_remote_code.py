"""Saved SEP models carry their code and image processor: they load, and run in
``pipeline("image-segmentation")``, with only torch + transformers (``trust_remote_code=True``), and with
samrs-hf's own classes after ``import samrs_hf.training``."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import AutoImageProcessor, ResNetConfig, ViTConfig, pipeline

from samrs_hf.training import SepConfig, SepModel
from samrs_hf.training.augment import to_tensors
from samrs_hf.training.backbones import STAGES
from samrs_hf.training.image_processing import SepImageProcessor
from samrs_hf.training.publish import model_card, save_model

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
import numpy as np
import torch
from transformers import AutoImageProcessor, AutoModel, pipeline

torch.set_num_threads(1)
inputs, tile, *folders = sys.argv[1:]
for folder in folders:
    model = AutoModel.from_pretrained(folder, trust_remote_code=True).eval()
    with torch.no_grad():
        logits = model(torch.load(inputs), head="fast").logits
    torch.save({"logits": logits, "module": type(model).__module__}, folder + ".out.pt")
head = {"default_head": "fast"}
segments = pipeline("image-segmentation", model=folders[0], trust_remote_code=True, model_kwargs=head)(tile)
torch.save(
    {
        "labels": [segment["label"] for segment in segments],
        "masks": np.stack([np.asarray(segment["mask"]) for segment in segments]),
        "processor": type(AutoImageProcessor.from_pretrained(folders[0], trust_remote_code=True)).__module__,
    },
    folders[0] + ".pipeline.pt",
)
"""

MODELS = {"resnet-unet": ("resnet", "unet"), "vit-upernet": ("vit", "upernet")}


def tiny_model(backbone: str, decoder: str) -> SepModel:
    torch.manual_seed(0)
    config = SepConfig(backbone_config=BACKBONE_CONFIGS[backbone], decoder=decoder, decoder_channels=8, heads=HEADS)
    return SepModel(config).eval()


def expected_segments(model: SepModel, tile: Image.Image, head: str) -> tuple[list[str], np.ndarray]:
    """The class names present in ``head``'s arg-max on ``tile`` and their masks (255 inside), as the pipeline
    should return them."""
    pixels = SepImageProcessor()(tile, return_tensors="pt").pixel_values
    with torch.no_grad():
        classes = model(pixels, head=head).logits[0].argmax(0).numpy()
    present = np.unique(classes)
    return [model.config.heads[head][i] for i in present], np.stack([(classes == i) * 255 for i in present])


def test_loads_in_a_python_without_samrs_hf(tmp_path):
    """One subprocess that cannot import samrs_hf loads a ResNet + UNet and a ViT + UperNet model, and runs
    ``pipeline("image-segmentation")`` on the first with a chosen head."""
    models = {name: tiny_model(*parts) for name, parts in MODELS.items()}
    for name, model in models.items():
        save_model(model, tmp_path / name, crop_size=32)
        assert {"modeling.py", "backbones.py", "decoders.py", "image_processing.py"} <= {
            p.name for p in (tmp_path / name).iterdir()
        }
        config = json.loads((tmp_path / name / "config.json").read_text())
        assert config["auto_map"] == {
            "AutoConfig": "modeling.SepConfig",
            "AutoModel": "modeling.SepModel",
            "AutoModelForSemanticSegmentation": "modeling.SepModel",
        }
        assert config["id2label"] == {"0": "a", "1": "b"} and config["default_head"] == "sota"

    x = torch.randn(2, 3, 64, 48)
    torch.save(x, tmp_path / "inputs.pt")
    tile = Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 56, 3), dtype=np.uint8))
    tile.save(tmp_path / "tile.png")
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    env = {**os.environ, "PYTHONPATH": "", "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-c", LOAD_WITHOUT_SAMRS_HF, str(tmp_path / "inputs.pt"), str(tmp_path / "tile.png")]
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
    segmented = torch.load(tmp_path / "resnet-unet.pipeline.pt", weights_only=False)
    assert segmented["processor"].startswith("transformers_modules.")
    labels, masks = expected_segments(models["resnet-unet"], tile, "fast")
    assert segmented["labels"] == labels and set(labels) <= set(HEADS["fast"])
    np.testing.assert_array_equal(segmented["masks"], masks)


def test_pipeline_and_image_processor_with_samrs_hf_imported(tmp_path):
    """With samrs_hf importable: the processor is samrs-hf's, normalises as training does, and the pipeline
    names each segment by the chosen head's classes."""
    model = tiny_model("resnet", "unet")
    save_model(model, tmp_path, crop_size=32)
    processor = AutoImageProcessor.from_pretrained(tmp_path)
    assert isinstance(processor, SepImageProcessor) and processor.size == {"height": 32, "width": 32}
    tile = np.random.default_rng(1).integers(0, 256, (24, 40, 3), dtype=np.uint8)
    trained_on, _ = to_tensors(tile, np.zeros((24, 40), np.uint8))
    torch.testing.assert_close(processor(Image.fromarray(tile), return_tensors="pt").pixel_values[0], trained_on)
    for head in HEADS:
        segmenter = pipeline(
            "image-segmentation", model=str(tmp_path), trust_remote_code=True, model_kwargs={"default_head": head}
        )
        assert segmenter.model.config.id2label == dict(enumerate(HEADS[head]))
        segments = segmenter(Image.fromarray(tile))
        labels, masks = expected_segments(model, Image.fromarray(tile), head)
        assert [s["label"] for s in segments] == labels
        np.testing.assert_array_equal(np.stack([np.asarray(s["mask"]) for s in segments]), masks)


def test_heads_label_the_config_and_a_missing_head_lists_the_heads():
    model = tiny_model("resnet", "unet")
    assert (model.config.default_head, model.config.label2id) == ("sota", {"a": 0, "b": 1})
    model.config.use_head("fast")
    assert model.config.id2label == {0: "x", 1: "y", 2: "z"} and model.config.num_labels == 3
    assert model(torch.randn(1, 3, 32, 32)).logits.shape == (1, 3, 32, 32)  # the default head
    model.set_heads({"potsdam": ["road", "car"]})  # fine-tuning
    assert (model.config.default_head, model.config.id2label) == ("potsdam", {0: "road", 1: "car"})
    with pytest.raises(ValueError, match=r"^this model has no head 'sota'; its heads are potsdam$"):
        model(torch.randn(1, 3, 32, 32), head="sota")
    with pytest.raises(ValueError, match="its heads are sota, fast"):
        SepConfig(backbone_config=BACKBONE_CONFIGS["resnet"], heads=HEADS, default_head="potsdam")


@pytest.mark.parametrize(
    ("first", "second"),
    [("samrs_hf.training.modeling", "transformers"), ("transformers", "samrs_hf.training")],
)
def test_import_samrs_hf_training_is_enough_for_automodel_in_any_order(tmp_path, first, second):
    """A fresh process: samrs_hf.training imported before transformers (here through the model's module) or
    after, then AutoModel without remote code; registering warns of nothing."""
    tiny_model("resnet", "unet").save_pretrained(tmp_path)
    script = (
        f"import sys, {first}, {second}\n"
        "from transformers import AutoModel\n"
        f"model = AutoModel.from_pretrained({str(tmp_path)!r})\n"
        "print(type(model).__module__, type(model).__name__)\n"
    )
    command = [sys.executable, "-W", "error::UserWarning", "-c", script]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=True)
    assert result.stdout.split() == ["samrs_hf.training.modeling", "SepModel"]


def test_importing_samrs_hf_leaves_transformers_unloaded():
    """``samrs --help`` and argument errors must not pay for transformers and torch (the parser neither: its
    SAM families are read from the registry only when a command looks at them)."""
    script = "import sys, samrs_hf.cli; samrs_hf.cli.build_parser(); "
    script += "print('transformers' in sys.modules, 'torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.split() == ["False", "False"]


def test_card_shows_the_pipeline_normalisation_and_both_ways_of_loading():
    card = str(model_card(tiny_model("vit", "upernet"), "org/samrs", {"steps": 2}, {}, "org/sep-vit"))
    assert 'pipeline("image-segmentation", model="org/sep-vit", trust_remote_code=True' in card
    assert 'model_kwargs={"default_head": "sota"})  # the head to use: sota, fast' in card
    assert "mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225)" in card
    assert 'AutoModel.from_pretrained("org/sep-vit", trust_remote_code=True)' in card
    assert "import samrs_hf.training" in card and 'AutoModel.from_pretrained("org/sep-vit")\n' in card
    assert "# vit + upernet" in card and "datasets:\n- org/samrs" in card
    assert "base_model" not in card and "Fine-tuned from" not in card


def test_a_fine_tuned_card_records_its_init_and_no_local_path(tmp_path):
    model = tiny_model("resnet", "unet")
    card = str(model_card(model, "potsdam", {}, {}, base_model="org/sep-r50"))
    assert "base_model: org/sep-r50" in card and "Fine-tuned from org/sep-r50." in card
    local = tmp_path / "runs" / "sep-r50"
    local.mkdir(parents=True)
    card = str(model_card(model, str(tmp_path / "samrs"), {}, {}, base_model=str(local)))
    assert "Fine-tuned from sep-r50 (a local folder)." in card and "Data: samrs (a local folder)." in card
    assert str(tmp_path) not in card and "base_model" not in card
