"""Backbones for SEP: transformers' ``AutoBackbone`` built from configs (no download) or Hub weights.

A backbone is named either by a short name of the paper's backbones (``resnet-50``, ``swin-t``,
``convnext-t``) or by a Hub id / local folder of any transformers model that has a backbone class.
Configs never touch the network for short names; weights come from the Hub id (or folder) only when
asked for, through ``AutoBackbone.from_pretrained``.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn
from transformers import AutoConfig, ConvNextConfig, PreTrainedConfig, ResNetConfig, SwinConfig

STAGES = ["stage1", "stage2", "stage3", "stage4"]

BACKBONES: dict[str, tuple[str, Callable[[], PreTrainedConfig]]] = {
    "resnet-50": ("microsoft/resnet-50", lambda: ResNetConfig(out_features=STAGES)),
    "swin-t": ("microsoft/swin-tiny-patch4-window7-224", lambda: SwinConfig(out_features=STAGES)),
    "convnext-t": (
        "facebook/convnext-tiny-224",
        lambda: ConvNextConfig(hidden_sizes=[96, 192, 384, 768], depths=[3, 3, 9, 3], out_features=STAGES),
    ),
}
"""Short name -> (Hub id of its ImageNet weights, factory of a config with that architecture)."""


def hub_id(name: str) -> str:
    """The Hub id (or folder) whose weights ``name`` stands for."""
    return BACKBONES[name][0] if name in BACKBONES else name


def backbone_config(name: str) -> PreTrainedConfig:
    """A backbone config giving the four stages (strides 4, 8, 16, 32) as features.

    Short names build the config locally; anything else is read with ``AutoConfig.from_pretrained``.
    """
    if name in BACKBONES:
        return BACKBONES[name][1]()
    return AutoConfig.from_pretrained(name, out_features=STAGES)


def load_backbone_weights(backbone: nn.Module, name: str) -> None:
    """Copy the weights of ``name``'s backbone (Hub id or folder) into ``backbone``; every weight must match.

    Loads through the backbone's own class: ``AutoBackbone.from_pretrained`` asks the Hub whether
    the repo exists even for a local folder (transformers 5.24), which fails offline.
    """
    source = hub_id(name)
    pretrained, info = type(backbone).from_pretrained(
        source, config=backbone.config, use_safetensors=True, output_loading_info=True
    )
    mismatched = {key: info[key] for key in ("missing_keys", "unexpected_keys", "mismatched_keys") if info[key]}
    if mismatched:
        raise ValueError(f"backbone weights of {source!r} do not fit the {name!r} architecture: {mismatched}")
    backbone.load_state_dict(pretrained.state_dict(), strict=True)
