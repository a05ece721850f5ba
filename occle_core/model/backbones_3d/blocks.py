"""Sparse convolution + BatchNorm + ReLU blocks shared by the sparse UNet and encoder.

Each helper returns a ``spconv.pytorch.SparseSequential``, which applies the convolution to the
sparse tensor and the BatchNorm / ReLU to its (N, C) feature rows only, so empty space is never
normalised. Importing this module loads spconv through `load_spconv`, which applies the CPU
backward shim, so every sparse network of ours (they all build on these blocks) runs patched.

``indice_key`` names the cached input/output index pairs inside the sparse tensor: submanifold
convolutions at one resolution share a key so the pairs are computed once, and an inverse
convolution reuses the key of the strided convolution it undoes, which is what makes its output
land exactly on that convolution's input sites.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from occle_core.model.backbones_3d.spconv_compat import load_spconv

if TYPE_CHECKING:
    from spconv.pytorch import SparseConvTensor, SparseSequential

_spconv = load_spconv()

# VoxelNet / SECOND values: per-batch voxel counts are small, so a slow running average.
_NORM_EPS = 1e-3
_NORM_MOMENTUM = 0.01

Size3 = int | tuple[int, int, int]


def check_sparse_input(x: SparseConvTensor, owner: str) -> None:
    """Reject sparse tensors that spconv would silently mis-handle.

    spconv reads the index buffer as a dense row-major (N, 4) int32 array without checking, so a
    non-contiguous index tensor (``mask.nonzero().int()`` is column-major) gives wrong results.

    Raises:
        ValueError: indices that are not a contiguous (N, 4) int32 tensor, or a feature count
            that differs from N.
    """
    indices = x.indices
    if indices.dtype != torch.int32 or indices.ndim != 2 or indices.shape[1] != 4:
        raise ValueError(
            f"{owner}: indices are {tuple(indices.shape)} {indices.dtype}, expected (N, 4) int32"
        )
    if not indices.is_contiguous():
        raise ValueError(f"{owner}: indices must be contiguous (call .contiguous())")
    if x.features.shape[0] != indices.shape[0]:
        raise ValueError(
            f"{owner}: {x.features.shape[0]} feature rows for {indices.shape[0]} indices"
        )


def _norm_relu(channels: int) -> list[nn.Module]:
    return [nn.BatchNorm1d(channels, eps=_NORM_EPS, momentum=_NORM_MOMENTUM), nn.ReLU()]


def subm_block(in_channels: int, out_channels: int, indice_key: str) -> SparseSequential:
    """3x3x3 submanifold convolution: output sites are exactly the input sites."""
    conv = _spconv.SubMConv3d(in_channels, out_channels, 3, bias=False, indice_key=indice_key)
    return _spconv.SparseSequential(conv, *_norm_relu(out_channels))


def down_block(
    in_channels: int, out_channels: int, stride: Size3, indice_key: str
) -> SparseSequential:
    """Strided sparse convolution (kernel 3, padding 1) that coarsens the grid by `stride`.

    Kernel 3 with padding 1 maps a size-n axis to ceil(n / stride), and for stride <= 3 every
    input site reaches an output site; kernel 2 without padding would drop the last site of an
    odd-sized axis.
    """
    conv = _spconv.SparseConv3d(
        in_channels,
        out_channels,
        3,
        stride=stride,
        padding=1,
        bias=False,
        indice_key=indice_key,
    )
    return _spconv.SparseSequential(conv, *_norm_relu(out_channels))


def up_block(in_channels: int, out_channels: int, indice_key: str) -> SparseSequential:
    """Inverse of the `down_block` with the same `indice_key`: back to its input sites."""
    conv = _spconv.SparseInverseConv3d(
        in_channels, out_channels, 3, bias=False, indice_key=indice_key
    )
    return _spconv.SparseSequential(conv, *_norm_relu(out_channels))
