"""Unit quaternions <-> rotation matrices. nuScenes writes quaternions as (w, x, y, z), ROS as
(x, y, z, w); both go through these two functions."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def rotation_from_wxyz(quaternion: object) -> NDArray[np.float64]:
    """(3, 3) rotation of a quaternion given as (w, x, y, z) (normalised here first)."""
    values = np.asarray(quaternion, dtype=np.float64)
    w, x, y, z = values / np.linalg.norm(values)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def wxyz_from_rotation(rotation: NDArray[np.floating]) -> NDArray[np.float64]:
    """(4,) unit quaternion (w, x, y, z) with w >= 0 of a (3, 3) rotation (Shepperd's method:
    the largest of w, x, y, z is computed first, so it stays accurate near 180 degrees)."""
    m = np.asarray(rotation, dtype=np.float64)
    trace = np.trace(m)
    if trace > 0:
        s = 2.0 * np.sqrt(1.0 + trace)
        q = [s / 4, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s]
    else:
        i = int(np.argmax(np.diag(m)))
        j, k = (i + 1) % 3, (i + 2) % 3
        s = 2.0 * np.sqrt(1.0 + m[i, i] - m[j, j] - m[k, k])
        q = [(m[k, j] - m[j, k]) / s, 0.0, 0.0, 0.0]
        q[1 + i] = s / 4
        q[1 + j] = (m[j, i] + m[i, j]) / s
        q[1 + k] = (m[k, i] + m[i, k]) / s
    quaternion = np.array(q)
    quaternion /= np.linalg.norm(quaternion)
    return quaternion if quaternion[0] >= 0 else -quaternion
