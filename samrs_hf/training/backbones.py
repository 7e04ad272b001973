"""Backbones for SEP: transformers' ``AutoBackbone`` or a ViT with a multi-level neck, built from configs.

A backbone is named either by a short name of the paper's backbones (``resnet-50``, ``swin-t``,
``convnext-t``, ``vit-b``) or by a Hub id / local folder of any transformers model that has a backbone
class, or of a ViT. Configs never touch the network for short names; weights come from the Hub id (or
folder) only when asked for.

This module travels with saved models as remote code: it imports only torch and transformers.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from transformers import (
    AutoBackbone,
    AutoConfig,
    ConvNextConfig,
    PreTrainedConfig,
    PreTrainedModel,
    ResNetConfig,
    SwinConfig,
    ViTConfig,
    ViTModel,
)
from transformers.modeling_outputs import BackboneOutput

STAGES = ["stage1", "stage2", "stage3", "stage4"]

BACKBONES: dict[str, tuple[str, Callable[[], PreTrainedConfig]]] = {
    "resnet-50": ("microsoft/resnet-50", lambda: ResNetConfig(out_features=STAGES)),
    "swin-t": ("microsoft/swin-tiny-patch4-window7-224", lambda: SwinConfig(out_features=STAGES)),
    "convnext-t": (
        "facebook/convnext-tiny-224",
        lambda: ConvNextConfig(hidden_sizes=[96, 192, 384, 768], depths=[3, 3, 9, 3], out_features=STAGES),
    ),
    "vit-b": (
        "google/vit-base-patch16-224",
        lambda: ViTConfig(
            hidden_size=768,
            num_hidden_layers=12,
            num_attention_heads=12,
            intermediate_size=3072,
            patch_size=16,
            image_size=224,
        ),
    ),
}
"""Short name -> (Hub id of its ImageNet weights, factory of a config with that architecture).
``google/vit-base-patch16-224`` is Google's ViT-B/16 (ImageNet-21k, fine-tuned on ImageNet-1k), the
release that mmsegmentation's ViT-B UperNet configs start from."""

CLASSIFIER_KEYS = ("classifier.",)
"""Weights of an image-classification checkpoint's head, which a backbone leaves unused."""

BACKBONE_ONLY_KEYS = ("hidden_states_norms.",)
"""Layers of transformers' Swin / ConvNeXt backbones that classification checkpoints do not have
(one LayerNorm per output stage): they start from their initialisation."""


class MultiLevelNeck(nn.Module):
    """mmsegmentation's ``MultiLevelNeck``: per level a 1x1 conv, a bilinear resize by ``scales``, a 3x3 conv.

    With ``scales`` (4, 2, 1, 0.5) four stride-16 ViT maps become maps at strides 4, 8, 16 and 32.
    """

    def __init__(self, in_channels: int, out_channels: int, scales: tuple[float, ...] = (4, 2, 1, 0.5)) -> None:
        super().__init__()
        self.scales = scales
        self.lateral_convs = nn.ModuleList(nn.Conv2d(in_channels, out_channels, kernel_size=1) for _ in scales)
        self.convs = nn.ModuleList(nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1) for _ in scales)

    def forward(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        outputs = []
        for x, scale, lateral, conv in zip(features, self.scales, self.lateral_convs, self.convs):
            x = lateral(x)
            if scale != 1:
                x = F.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=False)
            outputs.append(conv(x))
        return outputs


class ViTPyramid(nn.Module):
    """A ViT (``ViTModel``, no pooler) as a four-stage backbone, as mmsegmentation's ViT-B UperNet.

    The hidden states after blocks L/4, L/2, 3L/4 and L (3, 6, 9, 12 for ViT-B: mmseg's ``out_indices``
    (2, 5, 8, 11)), the last one through the ViT's final LayerNorm (mmseg's ``final_norm=True``), without
    the CLS token, reshaped to stride-``patch_size`` maps and rescaled by :class:`MultiLevelNeck` to
    strides 4, 8, 16, 32 (for patch 16). Any input size works: position embeddings are interpolated.
    """

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        layers = config.num_hidden_layers
        if layers < 4:
            raise ValueError(f"a ViT backbone needs at least 4 layers (one per output stage), got {layers}")
        self.config = config
        self.vit = ViTModel(config, add_pooling_layer=False)
        self.out_layers = [layers * k // 4 for k in (1, 2, 3)]
        self.channels = [config.hidden_size] * 4
        self.neck = MultiLevelNeck(config.hidden_size, config.hidden_size)

    def forward(self, pixel_values: torch.Tensor) -> BackboneOutput:
        output = self.vit(pixel_values, output_hidden_states=True, interpolate_pos_encoding=True)
        tokens = [output.hidden_states[layer] for layer in self.out_layers] + [output.last_hidden_state]
        height, width = (size // self.config.patch_size for size in pixel_values.shape[-2:])
        maps = [t[:, 1:].transpose(1, 2).reshape(len(t), -1, height, width) for t in tokens]
        return BackboneOutput(feature_maps=tuple(self.neck(maps)))


def build_backbone(config: PreTrainedConfig) -> nn.Module:
    """The backbone module for ``config``: :class:`ViTPyramid` for a ViT, else ``AutoBackbone.from_config``.

    Either has ``channels`` (four widths) and returns ``feature_maps`` at strides 4, 8, 16, 32.
    """
    if isinstance(config, ViTConfig):
        return ViTPyramid(config)
    return AutoBackbone.from_config(config)


def hub_id(name: str) -> str:
    """The Hub id (or folder) whose weights ``name`` stands for."""
    return BACKBONES[name][0] if name in BACKBONES else name


def backbone_config(name: str) -> PreTrainedConfig:
    """A config :func:`build_backbone` turns into four stages (strides 4, 8, 16, 32).

    Short names build the config locally; anything else is read with ``AutoConfig.from_pretrained``
    (a ViT config as it is, any other with the four ``out_features``). A local folder is recorded by its
    name only: the config travels in the SEP model's ``config.json``, which must hold no local path.
    """
    if name in BACKBONES:
        return BACKBONES[name][1]()
    config = AutoConfig.from_pretrained(name)
    if Path(name).is_dir():
        config.name_or_path = Path(name).resolve().name
    if not isinstance(config, ViTConfig):
        config.out_features = STAGES
    return config


def load_backbone_weights(backbone: nn.Module, name: str, local_files_only: bool = False) -> None:
    """Copy the weights of ``name``'s backbone (Hub id or folder) into ``backbone``.

    Every weight must match, except a classification checkpoint's head (``classifier.*``, unused) and
    the per-stage norms transformers' Swin / ConvNeXt backbones add (``hidden_states_norms.*``, which
    keep their initialisation). Loads through the backbone's own class: ``AutoBackbone.from_pretrained``
    asks the Hub whether the repo exists even for a local folder, which fails offline.
    ``local_files_only``: read the Hub cache alone (when the Hub does not answer).
    """
    source = hub_id(name)
    target: PreTrainedModel = backbone.vit if isinstance(backbone, ViTPyramid) else backbone
    options = {"add_pooling_layer": False} if isinstance(backbone, ViTPyramid) else {}
    pretrained, info = type(target).from_pretrained(
        source,
        config=target.config,
        use_safetensors=True,
        output_loading_info=True,
        local_files_only=local_files_only,
        **options,
    )
    allowed = {"missing_keys": BACKBONE_ONLY_KEYS, "unexpected_keys": CLASSIFIER_KEYS, "mismatched_keys": ()}
    wrong = {
        kind: keys
        for kind, prefixes in allowed.items()
        if (keys := sorted(str(key) for key in info[kind] if not str(key).startswith(prefixes)))
    }
    if wrong:
        raise ValueError(f"backbone weights of {source!r} do not fit the {name!r} architecture: {wrong}")
    target.load_state_dict(pretrained.state_dict(), strict=True)
