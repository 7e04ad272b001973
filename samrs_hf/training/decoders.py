"""Decoders that turn the four backbone stages (strides 4-32) into one feature map for the heads.

* ``upernet``: transformers' UperNet head (pyramid pooling + FPN), minus its classifier;
  output at stride 4.
* ``unet``: the SAMRS paper's UNet variant: three upsample-concatenate-convolve blocks from
  stride 32 to stride 4, then the last decoder block replaced by a 2x bilinear upsample;
  output at stride 2 (the head's own 2x upsample brings it to full size).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from transformers import UperNetConfig
from transformers.models.upernet.modeling_upernet import UperNetHead  # transformers exports only the whole model


class UperNetDecoder(UperNetHead):
    """``UperNetHead`` returning its fused features (``channels`` wide, stride 4) instead of logits."""

    output_stride = 4
    min_micro_batch = 2
    """Samples a training micro-batch needs: the pyramid pooling batch-normalises 1x1 maps."""

    def __init__(self, in_channels: list[int], channels: int, pool_scales: tuple[int, ...]) -> None:
        config = UperNetConfig(pool_scales=list(pool_scales), hidden_size=channels, use_auxiliary_head=False)
        super().__init__(config, in_channels)
        self.classifier = nn.Identity()


def conv_bn_relu(in_channels: int, out_channels: int) -> nn.Sequential:
    """3x3 convolution (no bias), batch norm, ReLU."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class UNetBlock(nn.Module):
    """Upsample 2x, concatenate the skip connection, two 3x3 conv-BN-ReLU."""

    def __init__(self, in_channels: int, skip_channels: int, channels: int) -> None:
        super().__init__()
        self.convs = nn.Sequential(
            conv_bn_relu(in_channels + skip_channels, channels), conv_bn_relu(channels, channels)
        )

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.convs(torch.cat([x, skip], dim=1))


class UNetDecoder(nn.Module):
    """The paper's UNet decoder: blocks 32->16->8->4, then a 2x bilinear upsample instead of a last block."""

    output_stride = 2
    min_micro_batch = 1
    """Samples a training micro-batch needs."""

    def __init__(self, in_channels: list[int], channels: int) -> None:
        super().__init__()
        widths = [in_channels[-1]] + [channels] * (len(in_channels) - 1)
        skips = in_channels[-2::-1]
        self.blocks = nn.ModuleList(UNetBlock(w, s, channels) for w, s in zip(widths, skips))

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        x = features[-1]
        for block, skip in zip(self.blocks, features[-2::-1]):
            x = block(x, skip)
        return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


DECODERS: dict[str, type[UperNetDecoder | UNetDecoder]] = {"upernet": UperNetDecoder, "unet": UNetDecoder}
"""Decoder class by name; each says its ``output_stride`` and ``min_micro_batch``."""


def build_decoder(name: str, in_channels: list[int], channels: int, pool_scales: tuple[int, ...]) -> nn.Module:
    """The decoder called ``name`` (one of :data:`DECODERS`)."""
    if name not in DECODERS:
        raise ValueError(f"unknown decoder {name!r}; choose from {', '.join(DECODERS)}")
    if name == "upernet":
        return UperNetDecoder(in_channels, channels, pool_scales)
    return DECODERS[name](in_channels, channels)
