"""KITTI `poses.txt` and `times.txt`.

`poses.txt` holds one 3x4 row-major matrix per scan: the pose of the left grey camera (cam0) in the
cam0 frame of the first scan. Our Frames are referenced to the velodyne, so poses are converted to
velodyne poses in the velodyne frame of the first scan: ``inv(Tr) @ P @ Tr`` (as SemanticKITTI
does).
"""

from __future__ import annotations

import os

import numpy as np
from numpy.typing import NDArray

from occle_core.errors import DataFormatError
from occle_core.io.atomic import atomic_write_bytes
from occle_core.io.binary import read_bytes

Path_ = str | os.PathLike[str]


def _read_table(path: Path_, columns: int, what: str) -> NDArray[np.float64]:
    text = read_bytes(path, what).decode("utf-8", errors="replace")
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = [float(v) for v in line.split()]
        except ValueError:
            raise DataFormatError(
                path, f"line {number} holds non-numbers", f"{columns} floats"
            ) from None
        if len(row) != columns:
            raise DataFormatError(
                path, f"line {number} holds {len(row)} values", f"{columns} ({what})"
            )
        if not np.isfinite(row).all():
            raise DataFormatError(
                path, f"line {number} holds a NaN or infinite value", f"{columns} finite floats"
            )
        rows.append(row)
    if not rows:
        raise DataFormatError(path, "empty", f"one line of {columns} floats per scan ({what})")
    return np.asarray(rows, dtype=np.float64).reshape(-1, columns)


def read_poses(
    path: Path_, velo_to_cam0: NDArray[np.floating] | None = None
) -> NDArray[np.float64]:
    """Read scan poses.

    Args:
        path: `poses.txt`.
        velo_to_cam0: the calibration's Tr (4, 4). When given, poses are converted to velodyne poses
            (``inv(Tr) @ P @ Tr``); when None, the camera poses are returned as stored.

    Returns:
        (N, 4, 4) float64 poses, world_from_sensor.
    """
    table = _read_table(path, 12, "3x4 pose matrices")
    poses = np.tile(np.eye(4), (len(table), 1, 1))
    poses[:, :3, :] = table.reshape(-1, 3, 4)
    if velo_to_cam0 is not None:
        # A general inverse, as the SemanticKITTI API does: the published Tr matrices are
        # orthonormal only to ~1e-7, and a transpose-based inverse would drift by ~5e-5 m.
        tr = np.asarray(velo_to_cam0, dtype=np.float64)
        poses = np.linalg.inv(tr) @ poses @ tr
    return poses


def write_poses(
    path: Path_, poses: NDArray[np.floating], velo_to_cam0: NDArray[np.floating] | None = None
) -> None:
    """Write (N, 4, 4) poses as `poses.txt`; velodyne poses are converted back when Tr is given."""
    array = np.asarray(poses, dtype=np.float64)
    if velo_to_cam0 is not None:
        tr = np.asarray(velo_to_cam0, dtype=np.float64)
        array = tr @ array @ np.linalg.inv(tr)
    lines = [" ".join(f"{v:.9e}" for v in pose[:3, :].ravel()) for pose in array]
    atomic_write_bytes(path, ("\n".join(lines) + "\n").encode())


def read_times(path: Path_) -> NDArray[np.float64]:
    """Read `times.txt`: (N,) timestamps in seconds from the start of the sequence."""
    return _read_table(path, 1, "timestamps").ravel()


def write_times(path: Path_, times: NDArray[np.floating]) -> None:
    """Write (N,) timestamps as `times.txt` (KITTI's %e format)."""
    atomic_write_bytes(path, ("\n".join(f"{t:e}" for t in np.asarray(times)) + "\n").encode())
