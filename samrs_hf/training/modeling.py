"""The SEP model: one backbone + one decoder shared by all subsets, one 1x1-conv head per subset.

``SepModel`` is a transformers ``PreTrainedModel``, so ``save_pretrained`` writes safetensors and a
``config.json`` (backbone config included), and ``from_pretrained`` / ``push_to_hub`` work as for
any transformers model. Logits come back at the input size.

Saved models carry their code: ``save_pretrained`` copies this module and the modules it imports
relatively (``backbones.py``, ``decoders.py``) and writes their ``auto_map``, so
``AutoModel.from_pretrained(folder_or_id, trust_remote_code=True)`` works with only torch and
transformers installed. These modules therefore import nothing but torch, transformers and each other.
``import samrs_hf`` registers the classes with ``AutoConfig`` / ``AutoModel`` instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from huggingface_hub.dataclasses import strict
from torch import nn
from transformers import AutoConfig, PreTrainedConfig, PreTrainedModel
from transformers import initialization as init
from transformers.configuration_utils import SubConfigSpec
from transformers.utils import ModelOutput

from .backbones import STAGES, backbone_config, build_backbone, load_backbone_weights
from .decoders import build_decoder

IGNORE_INDEX = 255
"""Label value that never contributes to the loss (SAMRS's unlabelled pixels)."""


@strict
class SepConfig(PreTrainedConfig):
    r"""
    backbone_config: the transformers backbone config (its ``out_features`` are the four stages).
    decoder: ``"upernet"`` or ``"unet"``.
    decoder_channels: width of the decoder's feature map (UperNet's ``hidden_size``).
    pool_scales: UperNet's pyramid pooling scales.
    heads: subset name -> its class names, in label-index order; one 1x1-conv head each.
    ignore_index: label value that never contributes to the loss.
    """

    model_type = "samrs_sep"
    sub_configs_defaults: ClassVar[dict[str, SubConfigSpec]] = {
        "backbone_config": SubConfigSpec(
            config_class=AutoConfig, model_type="resnet", init_kwargs={"out_features": STAGES}
        )
    }

    backbone_config: dict | PreTrainedConfig | None = None
    decoder: str = "upernet"
    decoder_channels: int = 512
    pool_scales: list[int] | tuple[int, ...] = (1, 2, 3, 6)
    heads: dict | None = None
    ignore_index: int = IGNORE_INDEX


def segmentation_loss(logits: torch.Tensor, target: torch.Tensor, ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
    """Cross-entropy averaged over labelled pixels; 0 (still in the graph) when none is labelled."""
    total = F.cross_entropy(logits, target.long(), ignore_index=ignore_index, reduction="sum")
    return total / (target != ignore_index).sum().clamp(min=1)


@dataclass
class SepOutput(ModelOutput):
    """``loss``: summed loss; ``logits``: one head's logits; ``head_losses``: per-head losses (multi-head)."""

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    head_losses: torch.FloatTensor | None = None


class SepModel(PreTrainedModel):
    """Backbone + decoder + ``nn.ModuleDict`` of per-subset 1x1-conv heads."""

    config_class = SepConfig
    config: SepConfig
    base_model_prefix = "sep"
    main_input_name = "pixel_values"
    input_modalities = ("image",)

    def __init__(self, config: SepConfig) -> None:
        super().__init__(config)
        if not config.heads:
            raise ValueError("SepConfig.heads is empty: give at least one subset and its class names")
        self.backbone = build_backbone(config.backbone_config)
        self.decoder = build_decoder(
            config.decoder, list(self.backbone.channels), config.decoder_channels, tuple(config.pool_scales)
        )
        self.set_heads(config.heads)
        self.post_init()

    def _new_head(self, num_classes: int) -> nn.Conv2d:
        return nn.Conv2d(self.config.decoder_channels, num_classes, kernel_size=1)

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, nn.Conv2d):
            init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def set_heads(self, heads: dict[str, list[str]]) -> None:
        """Replace all heads by fresh ones: subset name -> class names (used to fine-tune on new labels)."""
        self.config.heads = {name: list(classes) for name, classes in heads.items()}
        self.heads = nn.ModuleDict({name: self._new_head(len(classes)) for name, classes in heads.items()})
        for head in self.heads.values():
            head.apply(self._init_weights)

    def features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """The decoder's shared feature map."""
        return self.decoder(list(self.backbone(pixel_values).feature_maps))

    def head_logits(self, features: torch.Tensor, head: str, size: tuple[int, int]) -> torch.Tensor:
        """Logits of subset ``head`` for ``features``, bilinearly upsampled to ``size``."""
        return F.interpolate(self.heads[head](features), size=size, mode="bilinear", align_corners=False)

    def forward(
        self,
        pixel_values: torch.Tensor,
        head: str | None = None,
        labels: torch.Tensor | None = None,
        head_sizes: dict[str, int] | None = None,
        **kwargs,
    ) -> SepOutput:
        """One head: logits (batch, classes of ``head``, H, W); ``head`` may be left out if there is one.

        Several heads (SEP training): with ``head_sizes`` (subset -> sample count) the batch holds those
        subsets' samples in that order; each slice goes through its own head only, and ``loss`` is the
        sum of the per-head losses (``head_losses``, in ``head_sizes`` order).
        """
        features = self.features(pixel_values)
        size = tuple(pixel_values.shape[-2:])
        if head_sizes is None:
            logits = self.head_logits(features, head or self._only_head(), size)
            loss = None if labels is None else segmentation_loss(logits, labels, self.config.ignore_index)
            return SepOutput(loss=loss, logits=logits)
        if labels is None:
            raise ValueError("head_sizes needs labels: it computes the per-head losses")
        counts = list(head_sizes.values())
        losses = torch.stack(
            [
                segmentation_loss(self.head_logits(part, name, size), target, self.config.ignore_index)
                for name, part, target in zip(head_sizes, features.split(counts), labels.split(counts))
            ]
        )
        return SepOutput(loss=losses.sum(), head_losses=losses)

    def _only_head(self) -> str:
        if len(self.heads) != 1:
            raise ValueError(f"name a head: this model has {', '.join(self.heads)}")
        return next(iter(self.heads))


def build_sep_model(
    backbone: str,
    decoder: str,
    heads: dict[str, list[str]],
    pretrained_backbone: bool = True,
    decoder_channels: int = 512,
) -> SepModel:
    """A fresh SEP model; with ``pretrained_backbone`` the backbone weights come from ``backbone``'s Hub id/folder."""
    config = SepConfig(
        backbone_config=backbone_config(backbone), decoder=decoder, decoder_channels=decoder_channels, heads=heads
    )
    model = SepModel(config)
    if pretrained_backbone:
        load_backbone_weights(model.backbone, backbone)
    return model


SepConfig.register_for_auto_class()
SepModel.register_for_auto_class("AutoModel")
