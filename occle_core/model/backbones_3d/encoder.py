"""Sparse 3D encoder (downsampling only) and its conversion to a dense BEV plane.

The encoder (SECOND style) coarsens the voxel grid level by level with strided sparse
convolutions and submanifold convolutions in between. Its coarse output is small enough to
densify, and `to_bev` folds the height axis into the channels so that 2D convolutions can
work on the bird's-eye view.

Axis convention: spatial axes are the grid's array axes (D0, D1, D2); with the default grid
``axis_order="xyz"`` that is (X, Y, Z), so the last axis is height.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from occle_core.model.backbones_3d.blocks import Size3, check_sparse_input, down_block, subm_block

if TYPE_CHECKING:
    from spconv.pytorch import SparseConvTensor


def _as_triple(stride: Size3) -> tuple[int, int, int]:
    if isinstance(stride, int):
        return (stride, stride, stride)
    if len(stride) != 3:
        raise ValueError(f"SparseEncoder: stride {stride} is not an int or 3 ints")
    return (int(stride[0]), int(stride[1]), int(stride[2]))


class SparseEncoder(nn.Module):
    """Sparse 3D encoder: submanifold blocks and strided sparse convolutions, no upsampling.

    Args:
        in_channels: C_in, feature channels of the input voxels.
        channels: feature channels per level, finest first; level l > 0 is reached by a strided
            convolution with `strides[l - 1]`.
        strides: per-axis (or one for all axes) stride into each level after the first;
            defaults to 2 everywhere. Each stride must be at most 3 so no site is skipped.
        blocks_per_level: submanifold conv blocks at each level.
        key_prefix: prefix of the index-pair cache keys stored in the sparse tensor.
    """

    def __init__(
        self,
        in_channels: int,
        channels: Sequence[int] = (16, 32, 64),
        strides: Sequence[Size3] | None = None,
        blocks_per_level: int = 1,
        key_prefix: str = "enc",
    ) -> None:
        super().__init__()
        if not channels or any(c <= 0 for c in channels) or in_channels <= 0:
            raise ValueError(
                f"SparseEncoder: in_channels={in_channels}, channels={tuple(channels)} must be "
                "positive and channels non-empty"
            )
        if blocks_per_level < 1:
            raise ValueError(f"SparseEncoder: blocks_per_level={blocks_per_level}, expected >= 1")
        self.channels = tuple(int(c) for c in channels)
        if strides is None:
            strides = [2] * (len(self.channels) - 1)
        if len(strides) != len(self.channels) - 1:
            raise ValueError(
                f"SparseEncoder: {len(strides)} strides for {len(self.channels)} levels, "
                f"expected {len(self.channels) - 1}"
            )
        self.strides = tuple(_as_triple(s) for s in strides)
        if any(s < 1 or s > 3 for triple in self.strides for s in triple):
            raise ValueError(f"SparseEncoder: strides {self.strides} must be in 1..3")

        self.stem = subm_block(in_channels, self.channels[0], f"{key_prefix}_subm0")
        self.levels = nn.ModuleList()
        for level, c in enumerate(self.channels):
            key = f"{key_prefix}_subm{level}"
            blocks: list[nn.Module] = []
            if level > 0:
                prev = self.channels[level - 1]
                blocks.append(
                    down_block(prev, c, self.strides[level - 1], f"{key_prefix}_down{level}")
                )
            blocks.extend(subm_block(c, c, key) for _ in range(blocks_per_level))
            self.levels.append(nn.Sequential(*blocks))
        self.out_channels = self.channels[-1]

    @property
    def total_stride(self) -> tuple[int, int, int]:
        """Per-axis factor between the input and the output grid."""
        total = [1, 1, 1]
        for triple in self.strides:
            total = [t * s for t, s in zip(total, triple, strict=True)]
        return (total[0], total[1], total[2])

    def output_shape(self, spatial_shape: Sequence[int]) -> tuple[int, int, int]:
        """Spatial shape of the output for an input of `spatial_shape` (ceil division per level)."""
        shape = [int(n) for n in spatial_shape]
        for triple in self.strides:
            shape = [-(-n // s) for n, s in zip(shape, triple, strict=True)]
        return (shape[0], shape[1], shape[2])

    def forward(self, x: SparseConvTensor) -> SparseConvTensor:
        """Encode.

        Args:
            x: sparse tensor with (N, 4) indices (batch, i, j, k), (N, C_in) features and spatial
                shape (D0, D1, D2).

        Returns:
            Sparse tensor on the coarse grid `output_shape((D0, D1, D2))` with (M, channels[-1])
            features.
        """
        return self.forward_levels(x)[-1]

    def forward_levels(self, x: SparseConvTensor) -> list[SparseConvTensor]:
        """Encode and keep every level (the skips of a decoder).

        Args:
            x: as in `forward`.

        Returns:
            One sparse tensor per level, finest first: level l has channels[l] features on the
            grid reached after the first l strides.
        """
        check_sparse_input(x, "SparseEncoder")
        x = self.stem(x)
        outputs = []
        for level in self.levels:
            x = level(x)
            outputs.append(x)
        return outputs


def to_dense(x: SparseConvTensor) -> torch.Tensor:
    """Scatter a sparse tensor into a dense, channels-first tensor; empty sites are zero.

    Differentiable with respect to the features. (Written here rather than calling
    ``SparseConvTensor.dense`` because that indexes with a list, which torch deprecates.)

    Args:
        x: sparse tensor with (N, 4) indices and (N, C) features.

    Returns:
        (B, C, D0, D1, D2) dense tensor.
    """
    features = x.features
    shape = tuple(int(n) for n in x.spatial_shape)
    dense = features.new_zeros((int(x.batch_size), *shape, features.shape[1]))
    b, i, j, k = x.indices.long().unbind(dim=1)
    dense = dense.index_put((b, i, j, k), features)
    return dense.permute(0, 4, 1, 2, 3)


def to_bev(x: SparseConvTensor) -> torch.Tensor:
    """Densify and fold the last spatial (height) axis into the channels.

    Args:
        x: sparse tensor with (N, C) features on a (D0, D1, D2) = (X, Y, Z) grid.

    Returns:
        (B, C * Z, X, Y) dense BEV tensor; channel ``c * Z + z`` holds channel c at height z.
    """
    dense = to_dense(x)
    batch, channels, size_x, size_y, size_z = dense.shape
    # (B, C, X, Y, Z) -> (B, C, Z, X, Y) so that C and Z are adjacent and fold c-major.
    folded = dense.permute(0, 1, 4, 2, 3)
    return folded.reshape(batch, channels * size_z, size_x, size_y)


class SparsePyramid(nn.Module):
    """A `SparseEncoder` whose call returns every level (the skips of a decoder), so that the
    encoder shows up as one module in hooks and parameter listings.

    Args:
        *args, **kwargs: as for `SparseEncoder`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.encoder = SparseEncoder(*args, **kwargs)

    def forward(self, x: SparseConvTensor) -> list[SparseConvTensor]:
        """Encode; returns one sparse tensor per level, finest first (see
        `SparseEncoder.forward_levels`)."""
        return self.encoder.forward_levels(x)
