"""Scan orders that serialise a voxel grid into a token sequence for the Mamba blocks.

Each Dual Mamba stage reads the grid in a different order so that tokens adjacent in space
are adjacent in some sequence: x-major raster, y-major raster, height-first, and a Morton
(Z-order) space-filling curve that keeps 3D neighbourhoods together at every scale.
Grids are indexed [x, y, z] and flattened in C order.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

SCAN_ORDERS = ("xyz", "yxz", "zxy", "morton")


def _interleave_bits(coords: np.ndarray, bits: int) -> np.ndarray:
    """Morton code of (N, 3) non-negative integer coordinates (x bit first at each level)."""
    code = np.zeros(coords.shape[0], dtype=np.int64)
    for bit in range(bits):
        for axis in range(3):
            code |= ((coords[:, axis] >> bit) & 1).astype(np.int64) << (3 * bit + (2 - axis))
    return code


@functools.lru_cache(maxsize=64)
def _permutation(order: str, shape: tuple[int, int, int]) -> np.ndarray:
    x, y, z = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    coords = np.stack([x.ravel(), y.ravel(), z.ravel()], axis=1)
    if order == "morton":
        bits = max(int(n - 1).bit_length() for n in shape)
        key = _interleave_bits(coords, max(bits, 1))
        return np.argsort(key, kind="stable")
    if sorted(order) != ["x", "y", "z"]:
        raise ValueError(f"unknown scan order {order!r}; expected one of {SCAN_ORDERS}")
    axes = ["xyz".index(a) for a in order]
    # np.lexsort sorts by the last key first: pass the slowest axis last.
    return np.lexsort(tuple(coords[:, a] for a in reversed(axes)))


def scan_permutation(
    order: str, shape: tuple[int, int, int], device: torch.device | str = "cpu"
) -> torch.Tensor:
    """Indices that list the C-order voxels of a grid of `shape` in scan `order`.

    ``tokens[:, perm]`` serialises (B, X*Y*Z, C) tokens; ``out[:, perm] = seq`` puts them back.

    Args:
        order: one of SCAN_ORDERS ("xyz" = x slowest, z fastest).
        shape: (X, Y, Z).
        device: where the index tensor lives.

    Returns:
        (X*Y*Z,) int64 permutation.
    """
    return torch.from_numpy(_permutation(order, tuple(shape))).to(device)
