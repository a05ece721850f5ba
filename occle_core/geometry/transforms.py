"""Rigid transforms as 4x4 homogeneous matrices (row-major, acting on column vectors)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def to_homogeneous(matrix_3x4: NDArray[np.floating]) -> NDArray[np.float64]:
    """Append the row [0, 0, 0, 1] to a 3x4 matrix.

    Args:
        matrix_3x4: (3, 4) transform.

    Returns:
        (4, 4) float64 matrix.
    """
    out = np.eye(4, dtype=np.float64)
    out[:3, :] = matrix_3x4
    return out


def invert_rigid(transform: NDArray[np.floating]) -> NDArray[np.float64]:
    """Invert a rigid (rotation + translation) 4x4 transform without a general inverse.

    Args:
        transform: (4, 4) matrix [R t; 0 1].

    Returns:
        (4, 4) float64 matrix [R^T -R^T t; 0 1].
    """
    rotation = np.asarray(transform[:3, :3], dtype=np.float64)
    translation = np.asarray(transform[:3, 3], dtype=np.float64)
    out = np.eye(4, dtype=np.float64)
    out[:3, :3] = rotation.T
    out[:3, 3] = -rotation.T @ translation
    return out


def transform_points(transform: NDArray[np.floating], xyz: NDArray[np.floating]) -> NDArray:
    """Apply a 4x4 transform to points.

    Args:
        transform: (4, 4) matrix mapping the points' frame to the target frame.
        xyz: (N, 3) points.

    Returns:
        (N, 3) transformed points, in the dtype of `xyz` (computed in float64).
    """
    t = np.asarray(transform, dtype=np.float64)
    out = xyz.astype(np.float64) @ t[:3, :3].T + t[:3, 3]
    return out.astype(xyz.dtype, copy=False)
