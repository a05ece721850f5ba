"""3D decoder with skips: from the fused coarse grid back to the full output resolution.

Each step upsamples with a transposed convolution (kernel = stride), crops to the finer level's
shape (the encoders round odd sizes up), concatenates that level's skip features and mixes them
with a 3x3x3 convolution.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def _conv_bn_relu(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv3d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm3d(out_channels),
        nn.ReLU(inplace=True),
    )


class DecoderStep(nn.Module):
    """Upsample by `stride`, join one skip, mix.

    Args:
        in_channels: channels of the coarse input.
        skip_channels: channels of the skip at the finer level.
        out_channels: channels of the output.
        stride: per-axis upsampling factor.
    """

    def __init__(
        self,
        in_channels: int,
        skip_channels: int,
        out_channels: int,
        stride: tuple[int, int, int],
    ) -> None:
        super().__init__()
        self.upsample = nn.Sequential(
            nn.ConvTranspose3d(in_channels, out_channels, stride, stride=stride, bias=False),
            nn.BatchNorm3d(out_channels),
            nn.ReLU(inplace=True),
        )
        self.mix = _conv_bn_relu(out_channels + skip_channels, out_channels)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        """(B, C_in, *coarse) and (B, C_skip, *fine) -> (B, C_out, *fine)."""
        up = self.upsample(x)
        fine = skip.shape[2:]
        if any(u < f for u, f in zip(up.shape[2:], fine, strict=True)):
            raise ValueError(
                f"DecoderStep: upsampled grid {tuple(up.shape[2:])} smaller than skip {tuple(fine)}"
            )
        up = up[:, :, : fine[0], : fine[1], : fine[2]]
        return self.mix(torch.cat([up, skip], dim=1))


class VoxelDecoder(nn.Module):
    """A chain of `DecoderStep`s from the coarsest level to the finest.

    Args:
        in_channels: channels of the fused coarse grid.
        level_channels: output width of each level, finest first (len = len(strides) + 1; the
            coarsest entry is unused by the decoder itself).
        skip_channels: skip width of each level finest first, excluding the coarsest.
        strides: per-axis stride from each level to the next, finest first.
    """

    def __init__(
        self,
        in_channels: int,
        level_channels: Sequence[int],
        skip_channels: Sequence[int],
        strides: Sequence[tuple[int, int, int]],
    ) -> None:
        super().__init__()
        if not len(level_channels) == len(strides) + 1 == len(skip_channels) + 1:
            raise ValueError(
                f"VoxelDecoder: {len(level_channels)} levels, {len(skip_channels)} skips and "
                f"{len(strides)} strides do not fit together"
            )
        steps = []
        previous = in_channels
        for level in reversed(range(len(strides))):
            steps.append(
                DecoderStep(previous, skip_channels[level], level_channels[level], strides[level])
            )
            previous = level_channels[level]
        self.steps = nn.ModuleList(steps)
        self.out_channels = previous

    def forward(self, x: torch.Tensor, skips: Sequence[torch.Tensor]) -> torch.Tensor:
        """Decode.

        Args:
            x: (B, in_channels, *coarsest shape) fused grid.
            skips: dense skip features finest first, (B, skip_channels[l], *shape of level l).

        Returns:
            (B, level_channels[0], *finest shape).
        """
        if len(skips) != len(self.steps):
            raise ValueError(f"VoxelDecoder: {len(skips)} skips for {len(self.steps)} steps")
        for step, skip in zip(self.steps, reversed(skips), strict=True):
            x = step(x, skip)
        return x
