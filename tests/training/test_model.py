"""SEP model: decoders, heads, loss with ignored pixels, save/reload, backbones by config and by folder."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModel, ConvNextConfig, SwinConfig

from samrs_hf.training import SepConfig, SepModel, build_sep_model, segmentation_loss
from samrs_hf.training.backbones import BACKBONES, STAGES, backbone_config

HEADS = {"sota": ["a", "b"], "fast": ["x", "y", "z"]}


def tiny_model(backbone_dir, decoder: str = "upernet", pretrained: bool = False) -> SepModel:
    torch.manual_seed(0)
    return build_sep_model(str(backbone_dir), decoder, HEADS, pretrained_backbone=pretrained, decoder_channels=16)


@pytest.mark.parametrize("decoder", ["upernet", "unet"])
def test_logits_at_input_size_per_head(backbone_dir, decoder):
    model = tiny_model(backbone_dir, decoder).eval()
    x = torch.randn(2, 3, 64, 64)
    assert model(x, head="sota").logits.shape == (2, 2, 64, 64)
    assert model(x, head="fast").logits.shape == (2, 3, 64, 64)
    assert model.decoder.output_stride == {"upernet": 4, "unet": 2}[decoder]
    assert model.features(x).shape[-1] == 64 // model.decoder.output_stride


@pytest.mark.parametrize("decoder", ["upernet", "unet"])
def test_each_decoder_trains_from_its_own_minimum_micro_batch(backbone_dir, decoder):
    """``min_micro_batch`` is what training with batch norm needs: that many samples train, one fewer cannot."""
    model = tiny_model(backbone_dir, decoder).train()
    minimum = model.decoder.min_micro_batch
    labels = torch.zeros(minimum, 64, 64, dtype=torch.long)
    assert model(torch.randn(minimum, 3, 64, 64), head="sota", labels=labels).loss.isfinite()
    if minimum > 1:
        with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
            model(torch.randn(minimum - 1, 3, 64, 64), head="sota", labels=labels[1:])


def test_save_reload_identical_outputs(backbone_dir, tmp_path):
    model = tiny_model(backbone_dir, "unet").eval()
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").is_file()
    loaded = SepModel.from_pretrained(tmp_path, use_safetensors=True).eval()
    x = torch.randn(1, 3, 64, 64)
    assert torch.equal(loaded(x, head="fast").logits, model(x, head="fast").logits)
    assert loaded.config.heads == HEADS and loaded.config.decoder == "unet"
    assert isinstance(AutoModel.from_pretrained(tmp_path), SepModel)  # registered with the Auto classes


def test_pretrained_backbone_loaded_by_value(backbone_dir):
    from transformers import ResNetBackbone

    reference = ResNetBackbone.from_pretrained(backbone_dir).state_dict()
    loaded = tiny_model(backbone_dir, pretrained=True).backbone.state_dict()
    fresh = tiny_model(backbone_dir, pretrained=False).backbone.state_dict()
    name = "embedder.embedder.convolution.weight"
    assert torch.equal(loaded[name], reference[name])
    assert not torch.equal(fresh[name], reference[name])


def test_loss_ignores_255():
    torch.manual_seed(0)
    logits = torch.randn(1, 3, 4, 4, requires_grad=True)
    target = torch.randint(0, 3, (1, 4, 4))
    target[0, :2] = 255
    expected = torch.nn.functional.cross_entropy(logits[0, :, 2:].unsqueeze(0), target[:, 2:])
    assert torch.allclose(segmentation_loss(logits, target), expected)
    changed = logits.detach().clone()
    changed[0, :, :2] += 100.0  # ignored pixels: no effect on the loss
    assert torch.allclose(segmentation_loss(changed, target), expected)
    all_ignored = segmentation_loss(logits, torch.full((1, 4, 4), 255))
    all_ignored.backward()
    assert all_ignored.item() == 0.0 and logits.grad.abs().sum() == 0


def test_each_head_sees_only_its_subset(backbone_dir):
    model = tiny_model(backbone_dir)
    x = torch.randn(5, 3, 32, 32)
    labels = torch.stack([torch.randint(0, 2, (32, 32))] * 2 + [torch.randint(0, 3, (32, 32))] * 3)
    sizes = {"sota": 2, "fast": 3}

    def head_grads(labels):
        model.zero_grad()
        out = model(x, labels=labels, head_sizes=sizes)
        out.loss.backward()
        assert torch.allclose(out.loss, out.head_losses.sum())
        return {name: head.weight.grad.clone() for name, head in model.heads.items()}

    before = head_grads(labels)
    other = labels.clone()
    other[:2] = 1 - other[:2]  # change the SOTA labels only
    after = head_grads(other)
    assert torch.equal(before["fast"], after["fast"])
    assert not torch.equal(before["sota"], after["sota"])


def test_fine_tune_heads_replace_old_ones(backbone_dir):
    model = tiny_model(backbone_dir)
    decoder = {k: v.clone() for k, v in model.decoder.state_dict().items()}
    model.set_heads({"potsdam": ["a", "b", "c", "d", "e", "f"]})
    assert list(model.heads) == ["potsdam"] and model.heads["potsdam"].out_channels == 6
    assert all(torch.equal(decoder[k], v) for k, v in model.decoder.state_dict().items())
    head = model.heads["potsdam"]  # initialised as every convolution of the model: Kaiming (fan out), no bias
    assert not head.bias.any() and abs(head.weight.std().item() - (2 / 6) ** 0.5) < 0.3


@pytest.mark.parametrize("name", sorted(set(BACKBONES) - {"vit-b"}))  # ViT-B: tests/training/test_vit.py
def test_paper_backbones_build_offline(name):
    config = backbone_config(name)
    assert config.out_features == ["stage1", "stage2", "stage3", "stage4"]


@pytest.mark.parametrize(
    "config",
    [
        SwinConfig(
            embed_dim=8, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1], window_size=2, image_size=64, out_features=STAGES
        ),
        ConvNextConfig(hidden_sizes=[8, 8, 16, 16], depths=[1, 1, 1, 1], out_features=STAGES),
    ],
    ids=["swin", "convnext"],
)
def test_transformer_and_convnext_backbones(config):
    model = SepModel(SepConfig(backbone_config=config, decoder="upernet", decoder_channels=8, heads=HEADS)).eval()
    assert model(torch.randn(1, 3, 64, 64), head="fast").logits.shape == (1, 3, 64, 64)


def test_unknown_decoder(backbone_dir):
    with pytest.raises(ValueError, match="unknown decoder 'fcn'"):
        tiny_model(backbone_dir, "fcn")


def test_imagenet_classification_checkpoints_load_without_their_head(tmp_path):
    """``microsoft/resnet-50`` and ``microsoft/swin-tiny-...`` are classification checkpoints: their
    ``classifier`` is left out, and Swin's backbone keeps its own per-stage norms; everything else must fit."""
    from transformers import ResNetConfig, ResNetForImageClassification, SwinForImageClassification

    from samrs_hf.training.backbones import build_backbone, load_backbone_weights

    resnet = dict(embedding_size=8, hidden_sizes=[8, 16, 16, 16], depths=[1, 1, 1, 1], layer_type="basic")
    swin = dict(embed_dim=8, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1], window_size=2, image_size=64)
    for name, classifier, config in [
        ("resnet", ResNetForImageClassification(ResNetConfig(**resnet, num_labels=5)), ResNetConfig(**resnet)),
        ("swin", SwinForImageClassification(SwinConfig(**swin, num_labels=5)), SwinConfig(**swin)),
    ]:
        classifier.save_pretrained(tmp_path / name)
        config.out_features = STAGES
        backbone = build_backbone(config)
        load_backbone_weights(backbone, str(tmp_path / name))
        expected = getattr(classifier, name).state_dict()
        mine = {key.removeprefix(f"{name}."): value for key, value in backbone.state_dict().items()}
        assert all(torch.equal(mine[key], value) for key, value in expected.items() if key in mine)
        assert len(set(mine) & set(expected)) > 10

    deeper = build_backbone(ResNetConfig(**{**resnet, "depths": [2, 1, 1, 1]}, out_features=STAGES))
    with pytest.raises(ValueError, match=r"do not fit the .* architecture: \{'missing_keys'"):
        load_backbone_weights(deeper, str(tmp_path / "resnet"))
