"""2D image encoder-decoder (a UNet) with a 2D semantic head.

OccLE uses two of them with separate weights: one for the semantic branch (trained on the 2D
pseudo labels) and one for the geometric branch. Weights start random, or load from a local
checkpoint file (nothing is ever downloaded).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class ImageUNetConfig:
    """Shape of an ImageUNet.

    Attributes:
        in_channels: image channels (3 for RGB).
        base_channels: channels of the first level; doubled at every level down.
        levels: number of resolution levels (downsamplings = levels - 1).
        out_stride: stride of the returned features relative to the input (1, 2, 4, ...);
            the decoder stops once it reaches it.
        out_channels: channels of the returned features.
        num_classes: classes of the 2D semantic head (0 disables the head).
    """

    in_channels: int = 3
    base_channels: int = 32
    levels: int = 4
    out_stride: int = 4
    out_channels: int = 64
    num_classes: int = 20


def _double_conv(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


@dataclass
class ImageFeatures:
    """Output of an ImageUNet for a batch of images.

    Attributes:
        features: (B, out_channels, H / out_stride, W / out_stride) feature maps.
        logits: (B, num_classes, H / out_stride, W / out_stride) 2D semantic logits, or None.
    """

    features: torch.Tensor
    logits: torch.Tensor | None


class ImageUNet(nn.Module):
    """A UNet returning features at `out_stride` and optional 2D semantic logits.

    Args:
        config: the network shape.
    """

    def __init__(self, config: ImageUNetConfig):
        super().__init__()
        stride_levels = config.out_stride.bit_length() - 1
        if 2**stride_levels != config.out_stride or stride_levels >= config.levels:
            raise ValueError(
                f"ImageUNet: out_stride {config.out_stride} must be a power of two "
                f"below 2**levels = {2**config.levels}"
            )
        self.config = config
        widths = [config.base_channels * 2**level for level in range(config.levels)]
        self.down = nn.ModuleList()
        previous = config.in_channels
        for width in widths:
            self.down.append(_double_conv(previous, width))
            previous = width
        self.up = nn.ModuleList()
        # Decode from the deepest level back up to the level of `out_stride`.
        for level in range(config.levels - 2, stride_levels - 1, -1):
            self.up.append(_double_conv(previous + widths[level], widths[level]))
            previous = widths[level]
        self.project = nn.Conv2d(previous, config.out_channels, 1)
        self.head = (
            nn.Conv2d(config.out_channels, config.num_classes, 1) if config.num_classes else None
        )

    def forward(self, images: torch.Tensor) -> ImageFeatures:
        """Encode images.

        Args:
            images: (B, in_channels, H, W) normalised images; H and W divisible by
                2**(levels - 1).

        Returns:
            Features (and logits) at `out_stride`.
        """
        skips = []
        x = images
        for index, block in enumerate(self.down):
            if index:
                x = F.max_pool2d(x, 2)
            x = block(x)
            skips.append(x)
        level = len(skips) - 2
        for block in self.up:
            skip = skips[level]
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = block(torch.cat([x, skip], dim=1))
            level -= 1
        features = self.project(x)
        return ImageFeatures(features, self.head(features) if self.head is not None else None)

    def load_pretrained(self, path: str | os.PathLike[str]) -> list[str]:
        """Load weights from a local checkpoint (a state dict, or a dict holding one under
        "state_dict" / "model"); returns the names of the parameters it did not contain."""
        state = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(state, dict):
            for key in ("state_dict", "model"):
                if key in state and isinstance(state[key], dict):
                    state = state[key]
        result = self.load_state_dict(state, strict=False)
        if result.unexpected_keys:
            raise ValueError(f"{path}: unexpected parameters {result.unexpected_keys[:5]}")
        return list(result.missing_keys)
