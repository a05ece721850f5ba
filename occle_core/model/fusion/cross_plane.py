"""Cross-plane synergy of the geometric branch: the LiDAR bird's-eye plane (strong along depth)
and the image frontal plane (strong in the lateral/vertical layout) are broadcast back to 3D,
concatenated and refined by residual 3D convolutions into the geometric grid and an occupancy
logit.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class GeometricOutput:
    """Output of the geometric branch head.

    Attributes:
        features: (B, C, X, Y, Z) geometric grid F_g.
        occupancy_logits: (B, 1, X, Y, Z) binary occupancy logit O.
    """

    features: torch.Tensor
    occupancy_logits: torch.Tensor


class _Residual3d(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv3d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm3d(channels),
            nn.ReLU(inplace=True),
            nn.Conv3d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm3d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.body(x))


class CrossPlaneFusion(nn.Module):
    """Fuse a BEV (x-y) plane and a frontal (y-z) plane into a 3D geometric grid.

    Args:
        bev_channels: channels of the BEV plane (z folded into channels by the sparse encoder).
        frontal_channels: channels of the frontal plane.
        channels: channels of the geometric grid.
        blocks: residual 3D blocks after the fusion.
    """

    def __init__(self, bev_channels: int, frontal_channels: int, channels: int, blocks: int = 2):
        super().__init__()
        self.fuse = nn.Sequential(
            nn.Conv3d(bev_channels + frontal_channels, channels, 1, bias=False),
            nn.BatchNorm3d(channels),
            nn.ReLU(inplace=True),
        )
        self.refine = nn.Sequential(*(_Residual3d(channels) for _ in range(blocks)))
        self.occupancy = nn.Conv3d(channels, 1, 1)

    def forward(self, bev: torch.Tensor, frontal: torch.Tensor) -> GeometricOutput:
        """Broadcast and fuse.

        Args:
            bev: (B, Cb, X, Y) bird's-eye plane.
            frontal: (B, Cf, Y, Z) frontal plane.

        Returns:
            The geometric grid (B, C, X, Y, Z) and its occupancy logits.
        """
        if bev.shape[0] != frontal.shape[0] or bev.shape[3] != frontal.shape[2]:
            raise ValueError(
                f"CrossPlaneFusion: BEV {tuple(bev.shape)} and frontal "
                f"{tuple(frontal.shape)} planes do not share batch and y"
            )
        x_size, z_size = bev.shape[2], frontal.shape[3]
        volume = torch.cat(
            [
                bev[..., None].expand(-1, -1, -1, -1, z_size),
                frontal[:, :, None].expand(-1, -1, x_size, -1, -1),
            ],
            dim=1,
        )
        features = self.refine(self.fuse(volume))
        return GeometricOutput(features, self.occupancy(features))
