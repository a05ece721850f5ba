"""Classification heads of the 3D parts (the 2D semantic head lives in `ImageUNet`, the
occupancy head in `CrossPlaneFusion`)."""

from __future__ import annotations

import torch
from torch import nn


class SparseVoxelHead(nn.Module):
    """3D semantic head on the sparse LiDAR voxels: one linear layer per voxel.

    Args:
        in_channels: voxel feature width C.
        num_classes: M.
    """

    def __init__(self, in_channels: int, num_classes: int):
        super().__init__()
        self.linear = nn.Linear(in_channels, num_classes)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(V, C) voxel features -> (V, M) class logits."""
        return self.linear(features)


class DenseClassHead(nn.Module):
    """Final M-class head on the full-resolution grid: a 3x3x3 mixing conv and a 1x1x1 classifier.

    Args:
        in_channels: grid feature width C.
        num_classes: M.
    """

    def __init__(self, in_channels: int, num_classes: int):
        super().__init__()
        self.mix = nn.Sequential(
            nn.Conv3d(in_channels, in_channels, 3, padding=1, bias=False),
            nn.BatchNorm3d(in_channels),
            nn.ReLU(inplace=True),
        )
        self.classify = nn.Conv3d(in_channels, num_classes, 1)

    def forward(self, grid: torch.Tensor) -> torch.Tensor:
        """(B, C, X, Y, Z) -> (B, M, X, Y, Z) class logits."""
        return self.classify(self.mix(grid))
