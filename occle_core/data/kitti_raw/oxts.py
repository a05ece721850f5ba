"""Poses <-> KITTI OXTS packets (latitude, longitude, altitude, roll, pitch, yaw).

KITTI's raw devkit (and pykitti) turn OXTS packets into poses with a Mercator projection
scaled by the cosine of the first latitude, and rotations R = Rz(yaw) Ry(pitch) Rx(roll); the
first position is the origin. `poses_to_oxts` inverts that so a drive written from our poses
reads back as the same poses (relative to the first one).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

EARTH_RADIUS = 6378137.0
#: Where our drives are placed (Karlsruhe, like KITTI's).
DEFAULT_ORIGIN = (49.0, 8.4, 110.0)


def rotation_to_euler_zyx(rotation: NDArray[np.floating]) -> tuple[float, float, float]:
    """(roll, pitch, yaw) with R = Rz(yaw) Ry(pitch) Rx(roll)."""
    r = np.asarray(rotation, dtype=np.float64)
    pitch = float(np.arcsin(np.clip(-r[2, 0], -1.0, 1.0)))
    roll = float(np.arctan2(r[2, 1], r[2, 2]))
    yaw = float(np.arctan2(r[1, 0], r[0, 0]))
    return roll, pitch, yaw


def euler_zyx_to_rotation(roll: float, pitch: float, yaw: float) -> NDArray[np.float64]:
    """R = Rz(yaw) Ry(pitch) Rx(roll)."""
    cr, sr, cp, sp, cy, sy = (
        np.cos(roll),
        np.sin(roll),
        np.cos(pitch),
        np.sin(pitch),
        np.cos(yaw),
        np.sin(yaw),
    )
    rz = np.array([[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]])
    ry = np.array([[cp, 0, sp], [0, 1, 0], [-sp, 0, cp]])
    rx = np.array([[1, 0, 0], [0, cr, -sr], [0, sr, cr]])
    return rz @ ry @ rx


def _mercator(lat: float, lon: float, scale: float) -> tuple[float, float]:
    x = scale * lon * np.pi * EARTH_RADIUS / 180.0
    y = scale * EARTH_RADIUS * np.log(np.tan((90.0 + lat) * np.pi / 360.0))
    return x, y


def poses_to_oxts(
    poses: NDArray[np.floating], origin: tuple[float, float, float] = DEFAULT_ORIGIN
) -> NDArray[np.float64]:
    """(T, 4, 4) world_from_imu poses -> (T, 6) lat, lon, alt, roll, pitch, yaw.

    The first pose is placed at `origin` (lat, lon degrees; alt metres); later ones keep their
    translation relative to it.
    """
    lat0, lon0, alt0 = origin
    scale = float(np.cos(lat0 * np.pi / 180.0))
    x0, y0 = _mercator(lat0, lon0, scale)
    first = np.asarray(poses[0], dtype=np.float64)[:3, 3]
    packets = np.zeros((len(poses), 6))
    for i, pose in enumerate(np.asarray(poses, dtype=np.float64)):
        dx, dy, dz = pose[:3, 3] - first
        lon = (x0 + dx) * 180.0 / (scale * np.pi * EARTH_RADIUS)
        lat = 360.0 / np.pi * np.arctan(np.exp((y0 + dy) / (scale * EARTH_RADIUS))) - 90.0
        packets[i, :3] = (lat, lon, alt0 + dz)
        packets[i, 3:] = rotation_to_euler_zyx(pose[:3, :3])
    return packets


def oxts_to_poses(packets: NDArray[np.floating]) -> NDArray[np.float64]:
    """(T, >=6) OXTS packets -> (T, 4, 4) poses, the devkit's way (origin = first position)."""
    scale = float(np.cos(packets[0, 0] * np.pi / 180.0))
    origin = None
    poses = np.zeros((len(packets), 4, 4))
    for i, (lat, lon, alt, roll, pitch, yaw) in enumerate(np.asarray(packets)[:, :6]):
        x, y = _mercator(float(lat), float(lon), scale)
        t = np.array([x, y, alt])
        origin = t if origin is None else origin
        poses[i] = np.eye(4)
        poses[i, :3, :3] = euler_zyx_to_rotation(roll, pitch, yaw)
        poses[i, :3, 3] = t - origin
    return poses
