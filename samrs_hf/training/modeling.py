"""The SEP model: one backbone + one decoder shared by all subsets, one 1x1-conv head per subset.

``SepModel`` is a transformers ``PreTrainedModel``, so ``save_pretrained`` writes safetensors and a
``config.json`` (backbone config included), and ``from_pretrained`` / ``push_to_hub`` work as for
any transformers model. Logits come back at the input size.

Saved models carry their code: ``save_pretrained`` copies this module and the modules it imports
relatively (``backbones.py``, ``decoders.py``) and writes their ``auto_map``, so
``AutoModel.from_pretrained(folder_or_id, trust_remote_code=True)`` (and ``pipeline("image-segmentation")``,
with the image processor :func:`~samrs_hf.training.publish.save_model` adds) works with only torch and
transformers installed. These modules therefore import nothing but torch, transformers and each other.
``import samrs_hf.training`` registers the classes with transformers' Auto classes instead.

The config's ``default_head`` is the head a call without ``head=`` uses (a pipeline's); ``id2label`` /
``label2id`` are its classes, and ``heads`` keeps every head's classes.
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
from transformers.configuration_utils import SubConfigSpec  # no public way to default an AutoConfig sub-config
from transformers.utils import ModelOutput

from .backbones import STAGES, backbone_config, build_backbone, load_backbone_weights
from .decoders import build_decoder

IGNORE_INDEX = 255
"""Label value that never contributes to the loss (SAMRS's unlabelled pixels)."""
SEMANTIC_SEGMENTATION_AUTO_MAP = {"AutoModelForSemanticSegmentation": "modeling.SepModel"}
"""Saved in ``config.json``'s ``auto_map`` beside ``AutoModel`` (which ``save_pretrained`` adds): the class
``pipeline("image-segmentation", trust_remote_code=True)`` loads."""


@strict
class SepConfig(PreTrainedConfig):
    r"""
    backbone_config: the transformers backbone config (its ``out_features`` are the four stages).
    decoder: ``"upernet"`` or ``"unet"``.
    decoder_channels: width of the decoder's feature map (UperNet's ``hidden_size``).
    pool_scales: UperNet's pyramid pooling scales.
    heads: subset name -> its class names, in label-index order; one 1x1-conv head each.
    default_head: the head ``forward`` uses when it is given none (pipelines give none); default: the first.
        ``id2label`` / ``label2id`` are its classes.
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
    default_head: str | None = None
    ignore_index: int = IGNORE_INDEX

    def __post_init__(self, **kwargs) -> None:
        super().__post_init__(**kwargs)
        if self.heads:
            self.use_head(self.default_head or next(iter(self.heads)))

    def use_head(self, head: str) -> None:
        """Make ``head`` the default head, with its class names as ``id2label`` / ``label2id``."""
        names = self.heads[check_head(self.heads, head)]
        self.default_head = head
        self.id2label = dict(enumerate(names))
        self.label2id = {name: index for index, name in enumerate(names)}


def check_head(heads: dict, head: str) -> str:
    """``head`` when it is one of ``heads``; else a ``ValueError`` that lists them."""
    if head not in heads:
        raise ValueError(f"this model has no head {head!r}; its heads are {', '.join(heads)}")
    return head


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
        config.use_head(config.default_head or next(iter(config.heads)))  # a default_head given to from_pretrained
        self.heads = self._new_heads(config.heads)
        config.auto_map = {**(getattr(config, "auto_map", None) or {}), **SEMANTIC_SEGMENTATION_AUTO_MAP}
        self.post_init()

    def _new_heads(self, heads: dict[str, list[str]]) -> nn.ModuleDict:
        """One uninitialised 1x1 convolution per head (``init_weights`` initialises them)."""
        width = self.config.decoder_channels
        return nn.ModuleDict({name: nn.Conv2d(width, len(classes), kernel_size=1) for name, classes in heads.items()})

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, nn.Conv2d):
            init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def set_heads(self, heads: dict[str, list[str]], default: str | None = None) -> None:
        """Replace all heads by fresh ones: subset name -> class names (used to fine-tune on new labels);
        ``default`` (the first head when ``None``) becomes the default head."""
        self.config.heads = {name: list(classes) for name, classes in heads.items()}
        self.config.use_head(default or next(iter(heads)))
        self.heads = self._new_heads(heads)
        self.init_weights()  # initialises only what is new: the heads

    def features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """The decoder's shared feature map."""
        return self.decoder(list(self.backbone(pixel_values).feature_maps))

    def head_logits(self, features: torch.Tensor, head: str, size: tuple[int, int]) -> torch.Tensor:
        """Logits of subset ``head`` for ``features``, bilinearly upsampled to ``size``."""
        logits = self.heads[check_head(self.heads, head)](features)
        return F.interpolate(logits, size=size, mode="bilinear", align_corners=False)

    def forward(
        self,
        pixel_values: torch.Tensor,
        head: str | None = None,
        labels: torch.Tensor | None = None,
        head_sizes: dict[str, int] | None = None,
        **kwargs,
    ) -> SepOutput:
        """One head: logits (batch, classes of ``head``, H, W); without ``head``, the config's ``default_head``.

        Several heads (SEP training): with ``head_sizes`` (subset -> sample count) the batch holds those
        subsets' samples in that order; each slice goes through its own head only, and ``loss`` is the
        sum of the per-head losses (``head_losses``, in ``head_sizes`` order).
        """
        features = self.features(pixel_values)
        size = tuple(pixel_values.shape[-2:])
        if head_sizes is None:
            logits = self.head_logits(features, head or self.config.default_head, size)
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


def build_sep_model(
    backbone: str,
    decoder: str,
    heads: dict[str, list[str]],
    pretrained_backbone: bool = True,
    decoder_channels: int = 512,
    local_files_only: bool = False,
) -> SepModel:
    """A fresh SEP model; with ``pretrained_backbone`` the backbone weights come from ``backbone``'s Hub id/folder
    (from the Hub cache alone with ``local_files_only``)."""
    config = SepConfig(
        backbone_config=backbone_config(backbone), decoder=decoder, decoder_channels=decoder_channels, heads=heads
    )
    model = SepModel(config)
    if pretrained_backbone:
        load_backbone_weights(model.backbone, backbone, local_files_only)
    return model


SepConfig.register_for_auto_class()
SepModel.register_for_auto_class("AutoModel")
