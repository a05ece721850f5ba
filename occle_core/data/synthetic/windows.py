"""Tight candidate-ray windows for ray bundles laid out on a grid (camera pixels, LiDAR beams).

For each primitive we bound the rays that can reach it by a rectangle of the bundle's ray grid:
pixels inside the projection of its bounding box for a camera, and beam rows x azimuth columns
for a spinning LiDAR. This replaces testing every ray against every primitive's bounding sphere
and cuts the (ray, primitive) pairs the exact intersection has to evaluate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from occle_core.data.synthetic.rig import LidarSpec
from occle_core.data.synthetic.shapes import Primitives
from occle_core.geometry.transforms import invert_rigid

#: Near clipping plane of the camera windows, metres.
_NEAR = 0.05


@dataclass(frozen=True)
class RayWindows:
    """Candidate rays of every primitive as inclusive rectangles of a (rows, cols) ray grid.

    Ray (r, c) has index ``r * cols + c``. With `wrap_cols`, column bounds may run past the
    grid edges and are taken modulo `cols` (azimuth wraps around).

    Attributes:
        rows: ray grid height.
        cols: ray grid width.
        wrap_cols: columns wrap around.
        row0, row1, col0, col1: (K,) int64 inclusive bounds.
        active: (K,) bool, False for primitives no ray can reach.
    """

    rows: int
    cols: int
    wrap_cols: bool
    row0: NDArray[np.int64]
    row1: NDArray[np.int64]
    col0: NDArray[np.int64]
    col1: NDArray[np.int64]
    active: NDArray[np.bool_]

    def sizes(self) -> NDArray[np.int64]:
        """(K,) number of candidate rays per primitive (0 when inactive)."""
        area = (self.row1 - self.row0 + 1) * (self.col1 - self.col0 + 1)
        return np.where(self.active, np.maximum(area, 0), 0)

    def pairs(self, prims: NDArray[np.intp]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Enumerate the (ray, primitive) pairs of the primitives `prims`.

        Returns:
            rays, primitives: (P,) int64 each.
        """
        sizes = self.sizes()[prims]
        total = int(sizes.sum())
        owner = np.repeat(prims, sizes)
        starts = np.repeat(np.cumsum(sizes) - sizes, sizes)
        offset = np.arange(total, dtype=np.int64) - starts
        width = np.repeat(self.col1[prims] - self.col0[prims] + 1, sizes)
        row = np.repeat(self.row0[prims], sizes) + offset // width
        col = np.repeat(self.col0[prims], sizes) + offset % width
        if self.wrap_cols:
            col %= self.cols
        return row * self.cols + col, owner.astype(np.int64)


def _corners_in(
    primitives: Primitives, sensor_from_world: NDArray[np.float64]
) -> NDArray[np.float64]:
    corners = primitives.local_corners()
    return corners @ sensor_from_world[:3, :3].T + sensor_from_world[:3, 3]


def _reachable(
    primitives: Primitives, origin: NDArray[np.float64], max_range: float
) -> NDArray[np.bool_]:
    distance = np.linalg.norm(primitives.center - origin, axis=1)
    return distance - primitives.bounding_radius() <= max_range


#: Corner index pairs of the 12 edges of a box from `Primitives.local_corners` (bit order x, y, z).
_EDGES = np.array([(a, a | bit) for bit in (4, 2, 1) for a in range(8) if not a & bit])


def _clip_to_near_plane(corners: NDArray[np.float64], near: float) -> tuple[NDArray, NDArray]:
    """Vertices of each box's part in front of the plane z = near: the corners in front plus the
    points where edges cross the plane. Returns (K, 20, 3) points and a (K, 20) validity mask."""
    a, b = corners[:, _EDGES[:, 0]], corners[:, _EDGES[:, 1]]
    za, zb = a[..., 2], b[..., 2]
    crosses = (za - near) * (zb - near) < 0
    fraction = np.where(crosses, (near - za) / np.where(crosses, zb - za, 1.0), 0.0)
    crossing = a + fraction[..., None] * (b - a)
    points = np.concatenate([corners, crossing], axis=1)
    valid = np.concatenate([corners[..., 2] >= near, crosses], axis=1)
    return points, valid


def camera_windows(
    primitives: Primitives,
    world_from_cam: NDArray[np.floating],
    intrinsics: NDArray[np.floating],
    width: int,
    height: int,
    max_range: float,
) -> RayWindows:
    """Pixel rectangles covering the projection of every primitive's bounding box.

    The box is first clipped to a near plane just in front of the camera, so boxes that
    straddle the camera plane (the ground under the car) still get a finite window.
    """
    pose = np.asarray(world_from_cam, dtype=np.float64)
    corners = _corners_in(primitives, invert_rigid(pose))
    points, valid = _clip_to_near_plane(corners, _NEAR)
    k = np.asarray(intrinsics, dtype=np.float64)
    z = np.where(valid, points[..., 2], 1.0)
    u = (k[0, 0] * points[..., 0] + k[0, 1] * points[..., 1]) / z + k[0, 2]
    v = (k[1, 1] * points[..., 1]) / z + k[1, 2]
    u_min = np.where(valid, u, np.inf).min(axis=1)
    u_max = np.where(valid, u, -np.inf).max(axis=1)
    v_min = np.where(valid, v, np.inf).min(axis=1)
    v_max = np.where(valid, v, -np.inf).max(axis=1)
    any_valid = valid.any(axis=1)
    # Pixel (c, r) is the ray through (c + 0.5, r + 0.5): pad by one pixel for round-off.
    with np.errstate(invalid="ignore"):
        col0 = np.clip(np.floor(np.where(any_valid, u_min, 0) - 0.5) - 1, 0, width)
        col1 = np.clip(np.ceil(np.where(any_valid, u_max, -1) - 0.5) + 1, -1, width - 1)
        row0 = np.clip(np.floor(np.where(any_valid, v_min, 0) - 0.5) - 1, 0, height)
        row1 = np.clip(np.ceil(np.where(any_valid, v_max, -1) - 0.5) + 1, -1, height - 1)
    active = (
        any_valid & _reachable(primitives, pose[:3, 3], max_range) & (col1 >= col0) & (row1 >= row0)
    )
    return RayWindows(
        height,
        width,
        False,
        row0.astype(np.int64),
        row1.astype(np.int64),
        col0.astype(np.int64),
        col1.astype(np.int64),
        active,
    )


def _footprint_distance(primitives: Primitives, origin: NDArray[np.float64]) -> NDArray[np.float64]:
    """Horizontal distance from `origin` to each primitive's local bounding rectangle."""
    local = primitives.point_in_every_frame(origin)
    dx = np.maximum(np.abs(local[:, 0]) - primitives.half[:, 0], 0.0)
    dy = np.maximum(np.abs(local[:, 1]) - primitives.half[:, 1], 0.0)
    return np.hypot(dx, dy)


def lidar_windows(
    primitives: Primitives, world_from_lidar: NDArray[np.floating], spec: LidarSpec
) -> RayWindows:
    """Beam rows x azimuth columns covering every primitive's bounding box.

    Azimuth bounds come from the box corners (azimuth is monotonic along a segment that misses
    the vertical axis; a footprint containing the sensor gets all columns). Elevation bounds use
    the nearest and farthest horizontal distances of the footprint, because the steepest view
    of a box may fall inside an edge rather than on a corner.
    """
    pose = np.asarray(world_from_lidar, dtype=np.float64)
    origin = pose[:3, 3]
    corners = _corners_in(primitives, invert_rigid(pose))
    planar = np.hypot(corners[..., 0], corners[..., 1])
    r_near = _footprint_distance(primitives, origin)
    r_far = planar.max(axis=1)
    z_low, z_high = corners[..., 2].min(axis=1), corners[..., 2].max(axis=1)
    safe_near = np.maximum(r_near, 1e-6)
    elev_high = np.where(z_high > 0, np.arctan2(z_high, safe_near), np.arctan2(z_high, r_far))
    elev_low = np.where(z_low < 0, np.arctan2(z_low, safe_near), np.arctan2(z_low, r_far))

    spacing = np.deg2rad(spec.elevation_max_deg - spec.elevation_min_deg) / max(spec.beams - 1, 1)
    top = np.deg2rad(spec.elevation_max_deg)
    row0 = np.clip(np.floor((top - elev_high) / spacing), 0, spec.beams - 1)
    row1 = np.clip(np.ceil((top - elev_low) / spacing), -1, spec.beams - 1)

    azimuth = np.arctan2(corners[..., 1], corners[..., 0])
    center_az = np.arctan2(corners[..., 1].mean(axis=1), corners[..., 0].mean(axis=1))
    relative = np.angle(np.exp(1j * (azimuth - center_az[:, None])))
    az_high = center_az + relative.max(axis=1)
    az_low = center_az + relative.min(axis=1)
    steps = spec.azimuth_steps
    # Column c covers azimuths (pi - 2 pi (c + 1) / A, pi - 2 pi c / A]; unwrapped bounds.
    col0 = np.floor((np.pi - az_high) / (2 * np.pi) * steps) - 1
    col1 = np.floor((np.pi - az_low) / (2 * np.pi) * steps) + 1
    surround = (r_near <= 0.0) | (col1 - col0 + 1 >= steps)
    col0 = np.where(surround, 0, col0)
    col1 = np.where(surround, steps - 1, col1)
    active = _reachable(primitives, origin, spec.max_range) & (row1 >= row0)
    return RayWindows(
        spec.beams,
        steps,
        True,
        row0.astype(np.int64),
        row1.astype(np.int64),
        col0.astype(np.int64),
        col1.astype(np.int64),
        active,
    )
