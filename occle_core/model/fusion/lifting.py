"""Voxel <-> pixel lifting for any number of cameras.

Image features are lifted to voxel centres by projecting the centres into every camera and
sampling the feature maps there (bilinear); a voxel seen by several cameras averages them, a
voxel outside every camera gets a learned vector. `FrontalPlanePool` then folds lifted features
along depth (x) into the frontal y-z plane with learned softmax weights, the image half of the
cross-plane geometric branch (no depth estimation needed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn
from torch.nn import functional as F

from occle_core.geometry.camera import CameraModel, project_points


@dataclass(frozen=True)
class VoxelPixelMap:
    """Where voxel centres land in N cameras (precomputed once per calibration).

    One map serves a whole batch when every sample shares the calibration; `stack` makes a
    batched map (a leading B axis) for samples with their own calibrations.

    Attributes:
        grid: (N, V, 2) or batched (B, N, V, 2) float32 sampling positions in grid_sample's
            normalised coordinates (x = 2u/W - 1, y = 2v/H - 1, align_corners=False),
            resolution independent: the same map serves an image resized to any size.
        valid: (N, V) or (B, N, V) bool, the centre projects inside the image in front of the
            camera.
    """

    grid: torch.Tensor
    valid: torch.Tensor

    @classmethod
    def build(
        cls,
        voxel_centers: NDArray[np.floating],
        cameras: Sequence[CameraModel],
        min_depth: float = 0.5,
    ) -> VoxelPixelMap:
        """Project (V, 3) voxel centres (camera reference frame, flat grid order)."""
        projection = project_points(np.asarray(voxel_centers).reshape(-1, 3), cameras, min_depth)
        sizes = np.array([[c.width, c.height] for c in cameras], dtype=np.float32)[:, None, :]
        grid = 2.0 * projection.uv / sizes - 1.0
        grid = np.where(projection.valid[..., None], grid, 0.0).astype(np.float32)
        return cls(torch.from_numpy(grid), torch.from_numpy(projection.valid.copy()))

    @classmethod
    def stack(cls, maps: Sequence[VoxelPixelMap]) -> VoxelPixelMap:
        """Batch per-sample maps (same cameras count and voxels) into one (B, N, V, 2) map."""
        if not maps or any(m.batched for m in maps):
            raise ValueError("VoxelPixelMap.stack: needs one or more unbatched maps")
        shapes = {tuple(m.grid.shape) for m in maps}
        if len(shapes) != 1:
            raise ValueError(f"VoxelPixelMap.stack: maps differ in shape {sorted(shapes)}")
        return cls(torch.stack([m.grid for m in maps]), torch.stack([m.valid for m in maps]))

    @property
    def batched(self) -> bool:
        return self.grid.dim() == 4

    @property
    def num_cameras(self) -> int:
        return int(self.grid.shape[-3])

    @property
    def num_voxels(self) -> int:
        return int(self.grid.shape[-2])

    def to(self, device: torch.device | str) -> VoxelPixelMap:
        return VoxelPixelMap(self.grid.to(device), self.valid.to(device))


class ImageLifter(nn.Module):
    """Lift per-camera feature maps to voxel centres.

    Args:
        channels: feature channels C.
        learn_outside: give voxels outside every camera a learned vector; without it they get
            zeros (for consumers such as `FrontalPlanePool` that ignore those voxels anyway,
            where a learned vector would receive no gradient).
    """

    def __init__(self, channels: int, learn_outside: bool = True):
        super().__init__()
        self.outside: nn.Parameter | None = (
            nn.Parameter(torch.zeros(channels)) if learn_outside else None
        )

    def forward(
        self, features: torch.Tensor, pixel_map: VoxelPixelMap
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Sample features at the voxel projections.

        Args:
            features: (B, N, C, h, w) feature maps of the N cameras (any stride).
            pixel_map: projections of the V voxel centres into the same N cameras, shared by
                the batch or batched (B, N, V, 2).

        Returns:
            lifted: (B, C, V) averaged features (the learned `outside` vector where no camera
                sees the voxel).
            seen: (V,) bool (or (B, V) for a batched map), the voxel projects into at least one
                camera.
        """
        batch, cameras, channels = features.shape[:3]
        if cameras != pixel_map.num_cameras:
            raise ValueError(
                f"ImageLifter: {cameras} feature maps for {pixel_map.num_cameras} cameras"
            )
        if pixel_map.batched and pixel_map.grid.shape[0] != batch:
            raise ValueError(
                f"ImageLifter: pixel map for {pixel_map.grid.shape[0]} samples, batch of {batch}"
            )
        voxels = pixel_map.num_voxels
        valid = pixel_map.valid if pixel_map.batched else pixel_map.valid[None]
        grid = pixel_map.grid.to(features.dtype)
        if not pixel_map.batched:
            grid = grid[None].expand(batch, -1, -1, -1)
        # "border": a centre in the outer half pixel must not blend in zeros from outside.
        sampled = F.grid_sample(
            features.flatten(0, 1),
            grid.reshape(batch * cameras, 1, voxels, 2),
            mode="bilinear",
            padding_mode="border",
            align_corners=False,
        )
        sampled = sampled.reshape(batch, cameras, channels, voxels)
        weight = valid.to(features.dtype)[:, :, None, :]
        count = weight.sum(dim=1)
        lifted = (sampled * weight).sum(dim=1) / count.clamp_min(1.0)
        seen = valid.any(dim=1)  # (1 or B, V)
        if self.outside is not None:
            lifted = torch.where(
                seen[:, None, :], lifted, self.outside[None, :, None].to(lifted.dtype)
            )
        return lifted, (seen if pixel_map.batched else seen[0])


class FrontalPlanePool(nn.Module):
    """Fold voxel features along x (depth) into the y-z plane with learned softmax weights.

    Args:
        channels: feature channels C.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.score = nn.Conv3d(channels, 1, kernel_size=1)

    def forward(self, voxel_features: torch.Tensor, seen: torch.Tensor) -> torch.Tensor:
        """Pool over x.

        Args:
            voxel_features: (B, C, X, Y, Z) lifted image features.
            seen: (X, Y, Z) or (B, X, Y, Z) bool, voxels seen by a camera (the others take no
                weight).

        Returns:
            (B, C, Y, Z) frontal plane; zeros where no voxel of the column is seen.
        """
        scores = self.score(voxel_features).float()
        mask = seen[:, None] if seen.dim() == 4 else seen[None, None]
        scores = scores.masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, dim=2)
        weights = torch.nan_to_num(weights, nan=0.0).to(voxel_features.dtype)
        return (weights * voxel_features).sum(dim=2)
