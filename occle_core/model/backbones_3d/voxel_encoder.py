"""VoxelNet-style voxel feature encoder: the points of each voxel -> one feature vector.

The input is our voxelisation (`occle_core.geometry.voxelize.VoxelizedPoints`) of one or more
frames, batched by `batch_voxels` into spconv's index layout: an (V, 4) int32 index array whose
columns are (batch, i, j, k), i.e. the frame's position in the batch followed by the voxel's
array-order grid indices. The encoder needs only torch; `SparseVoxelFeatures.to_sparse_tensor`
loads spconv when a sparse backbone follows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from occle_core.geometry.voxelize import POINT_FEATURES, VoxelizedPoints
from occle_core.model.backbones_3d.spconv_compat import load_spconv

if TYPE_CHECKING:
    from spconv.pytorch import SparseConvTensor


@dataclass(frozen=True)
class VoxelBatch:
    """The non-empty voxels of B frames with their points, as torch tensors.

    Attributes:
        indices: (V, 4) int32 (batch, i, j, k) per voxel, frames in batch order.
        points: (V, T, F) float32 per-point features (F = 7, see `POINT_FEATURES`), zero padded.
        num_points: (V,) int64 number of valid rows of `points` per voxel (1..T).
        spatial_shape: (D0, D1, D2) array shape of the voxel grid (`GridSpec.shape`).
        batch_size: B, the number of frames (a frame may have no voxels).
    """

    indices: torch.Tensor
    points: torch.Tensor
    num_points: torch.Tensor
    spatial_shape: tuple[int, int, int]
    batch_size: int

    @property
    def num_voxels(self) -> int:
        return int(self.indices.shape[0])

    def point_mask(self) -> torch.Tensor:
        """(V, T) bool, True on the valid (non-padding) point rows."""
        slots = torch.arange(self.points.shape[1], device=self.points.device)
        return slots[None, :] < self.num_points[:, None]

    def to(self, device: torch.device | str) -> VoxelBatch:
        """The same batch with its tensors on `device`."""
        return VoxelBatch(
            indices=self.indices.to(device),
            points=self.points.to(device),
            num_points=self.num_points.to(device),
            spatial_shape=self.spatial_shape,
            batch_size=self.batch_size,
        )


@dataclass(frozen=True)
class SparseVoxelFeatures:
    """One feature vector per non-empty voxel: the input of a sparse 3D backbone.

    Attributes:
        indices: (V, 4) int32 (batch, i, j, k) per voxel.
        features: (V, C) float per-voxel features.
        spatial_shape: (D0, D1, D2) array shape of the voxel grid.
        batch_size: B, the number of frames.
    """

    indices: torch.Tensor
    features: torch.Tensor
    spatial_shape: tuple[int, int, int]
    batch_size: int

    def to_sparse_tensor(self) -> SparseConvTensor:
        """The features as a ``spconv.pytorch.SparseConvTensor`` (imports spconv)."""
        spconv = load_spconv()
        # spconv reads the raw buffers as row-major arrays and does not check.
        return spconv.SparseConvTensor(
            self.features.contiguous(),
            self.indices.contiguous(),
            list(self.spatial_shape),
            self.batch_size,
        )


def batch_voxels(
    frames: Sequence[VoxelizedPoints],
    spatial_shape: tuple[int, int, int],
    device: torch.device | str = "cpu",
) -> VoxelBatch:
    """Concatenate the voxels of several frames, tagging each with its frame's batch index.

    Frames voxelised with different `max_points` are zero padded to the largest T.

    Args:
        frames: B voxelisations, all on the grid of shape `spatial_shape`.
        spatial_shape: the grid's array shape (`GridSpec.shape`).
        device: where the tensors go.

    Returns:
        The batch; voxels keep their per-frame order, frame 0 first.

    Raises:
        ValueError: no frames, features that are not (V, T, 7), or coordinates outside the grid.
    """
    if not frames:
        raise ValueError("batch_voxels: no frames")
    shape = np.asarray(spatial_shape, dtype=np.int64)
    if shape.shape != (3,) or np.any(shape <= 0):
        raise ValueError(f"batch_voxels: spatial_shape {spatial_shape} is not 3 positive sizes")
    width = len(POINT_FEATURES)
    max_t = 1
    for b, frame in enumerate(frames):
        if frame.features.ndim != 3 or frame.features.shape[2] != width:
            raise ValueError(
                f"batch_voxels: frame {b} features have shape {frame.features.shape}, "
                f"expected (V, T, {width})"
            )
        coords = frame.coords
        if coords.size and (np.any(coords < 0) or np.any(coords >= shape)):
            raise ValueError(f"batch_voxels: frame {b} has coordinates outside {spatial_shape}")
        max_t = max(max_t, frame.features.shape[1])

    total = sum(frame.num_voxels for frame in frames)
    indices = np.empty((total, 4), dtype=np.int32)
    points = np.zeros((total, max_t, width), dtype=np.float32)
    num_points = np.empty(total, dtype=np.int64)
    start = 0
    for b, frame in enumerate(frames):
        stop = start + frame.num_voxels
        indices[start:stop, 0] = b
        indices[start:stop, 1:] = frame.coords
        points[start:stop, : frame.features.shape[1]] = frame.features
        num_points[start:stop] = frame.num_points
        start = stop
    return VoxelBatch(
        indices=torch.from_numpy(indices).to(device),
        points=torch.from_numpy(points).to(device),
        num_points=torch.from_numpy(num_points).to(device),
        spatial_shape=(int(shape[0]), int(shape[1]), int(shape[2])),
        batch_size=len(frames),
    )


class _PointLayer(nn.Module):
    """Linear + BatchNorm + ReLU on the valid points only, then max over each voxel's points.

    Padding rows are excluded from the BatchNorm statistics (they would bias the mean towards
    the zero padding) and from the max (they are set to -inf first).
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        # No bias: BatchNorm's shift makes it redundant.
        self.linear = nn.Linear(in_channels, out_channels, bias=False)
        # eps/momentum of VoxelNet / SECOND, tuned for the small per-batch point counts.
        self.norm = nn.BatchNorm1d(out_channels, eps=1e-3, momentum=0.01)

    def forward(
        self, points: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Point features and their per-voxel max.

        Args:
            points: (V, T, C_in) point features (padding rows arbitrary).
            mask: (V, T) bool, valid point rows.

        Returns:
            (V, T, C_out) point features (zero on padding rows) and (V, C_out) their max.
        """
        valid = torch.relu(self.norm(self.linear(points[mask])))
        pointwise = valid.new_zeros((*mask.shape, valid.shape[1]))
        pointwise[mask] = valid
        pooled = pointwise.masked_fill(~mask[..., None], float("-inf")).amax(dim=1)
        return pointwise, pooled


class VoxelFeatureEncoder(nn.Module):
    """Stacked VFE layers (VoxelNet) that turn each voxel's points into one feature vector.

    Every layer but the last is a VoxelNet VFE layer: a point layer with C/2 channels whose
    output is concatenated with its per-voxel max, giving C channels per point. The last layer
    is a PointPillars PFN layer: a point layer with C channels followed by the max over points.

    In training mode BatchNorm needs more than one valid point in the whole batch.

    Args:
        channels: output channels of each layer; all but the last must be even. One entry gives
            a single PFN layer.
        in_channels: per-point input features, 7 for `POINT_FEATURES`.
    """

    def __init__(self, channels: Sequence[int] = (32, 64), in_channels: int = 7) -> None:
        super().__init__()
        if not channels:
            raise ValueError("VoxelFeatureEncoder: channels is empty")
        if any(c <= 0 for c in channels) or any(c % 2 for c in channels[:-1]):
            raise ValueError(
                f"VoxelFeatureEncoder: channels {tuple(channels)} must be positive, "
                "and even except the last (VFE layers concatenate two halves)"
            )
        layers = []
        width = in_channels
        for out in channels[:-1]:
            layers.append(_PointLayer(width, out // 2))
            width = out
        layers.append(_PointLayer(width, channels[-1]))
        self.layers = nn.ModuleList(layers)
        self.out_channels = int(channels[-1])

    def forward(self, batch: VoxelBatch) -> SparseVoxelFeatures:
        """Encode every voxel of the batch.

        Args:
            batch: V voxels with (V, T, in_channels) point features.

        Returns:
            (V, out_channels) features on the same (V, 4) indices.
        """
        mask = batch.point_mask()
        points = batch.points
        pooled = points.new_zeros((points.shape[0], self.out_channels))
        if batch.num_voxels:
            for layer in self.layers[:-1]:
                pointwise, pooled = layer(points, mask)
                tiled = pooled[:, None, :].expand_as(pointwise)
                # Keep padding rows at zero so they carry nothing into the next layer.
                points = torch.cat([pointwise, tiled * mask[..., None]], dim=2)
            _, pooled = self.layers[-1](points, mask)
        return SparseVoxelFeatures(
            indices=batch.indices,
            features=pooled,
            spatial_shape=batch.spatial_shape,
            batch_size=batch.batch_size,
        )
