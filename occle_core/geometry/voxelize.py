"""Voxelisation of a point cloud into the non-empty voxels of a grid (VoxelNet style).

Each non-empty voxel keeps up to `max_points` of its points with 7 features:
x, y, z, intensity, and the offset (dx, dy, dz) from the point to the voxel centre.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from occle_core.geometry.grid import GridSpec

#: Names of the per-point features in `VoxelizedPoints.features`, in order.
POINT_FEATURES = ("x", "y", "z", "intensity", "dx", "dy", "dz")


@dataclass(frozen=True)
class VoxelizedPoints:
    """Points grouped by voxel.

    Attributes:
        coords: (V, 3) int32 array-order indices of the non-empty voxels, sorted by flat index.
        features: (V, T, 7) float32 per-point features (see POINT_FEATURES), zero padded.
        num_points: (V,) int32 number of valid rows of `features` per voxel (1..T).
        point_voxel: (N,) int64 row in `coords` of each input point; -1 for points outside the
            grid. Points dropped by the T cap still report their voxel.
    """

    coords: NDArray[np.int32]
    features: NDArray[np.float32]
    num_points: NDArray[np.int32]
    point_voxel: NDArray[np.int64]

    @property
    def num_voxels(self) -> int:
        return int(self.coords.shape[0])

    def occupancy(self, grid: GridSpec) -> NDArray[np.bool_]:
        """Dense boolean grid (grid.shape) of the voxels holding at least one point."""
        dense = np.zeros(grid.shape, dtype=bool)
        dense[tuple(self.coords.T)] = True
        return dense

    def mean_features(self) -> NDArray[np.float32]:
        """(V, 7) mean of the kept point features per voxel."""
        total = self.features.sum(axis=1)
        return (total / self.num_points[:, None]).astype(np.float32)


def voxelize(
    points: NDArray[np.floating],
    grid: GridSpec,
    max_points: int = 10,
    rng: np.random.Generator | None = None,
) -> VoxelizedPoints:
    """Group points into the voxels of `grid`.

    Args:
        points: (N, >=4) array of x, y, z, intensity (extra columns are ignored), in the grid's
            frame.
        grid: the voxel grid.
        max_points: T, the cap on points kept per voxel.
        rng: when given, the kept points of a crowded voxel are a random sample drawn from it
            (training augmentation); otherwise the first T points in input order are kept.

    Returns:
        The non-empty voxels with their sampled points.
    """
    if points.ndim != 2 or points.shape[1] < 4:
        raise ValueError(f"voxelize: points has shape {points.shape}, expected (N, >=4)")
    if max_points < 1:
        raise ValueError(f"voxelize: max_points={max_points}, expected >= 1")
    xyz = points[:, :3]
    indices, inside = grid.points_to_indices(xyz)
    inside_rows = np.flatnonzero(inside)
    if rng is not None:
        inside_rows = rng.permutation(inside_rows)
    flat = grid.linear_indices(indices[inside_rows])
    # A stable sort keeps input (or shuffled) order inside each voxel, which defines "first T".
    order = np.argsort(flat, kind="stable")
    rows = inside_rows[order]
    flat_sorted = flat[order]
    unique_flat, starts, counts = np.unique(flat_sorted, return_index=True, return_counts=True)
    voxel_of_sorted = np.repeat(np.arange(unique_flat.size), counts)
    rank = np.arange(flat_sorted.size) - starts[voxel_of_sorted]
    keep = rank < max_points

    coords = grid.unravel(unique_flat).astype(np.int32)
    centers = grid.centers_of(coords)
    features = np.zeros((unique_flat.size, max_points, len(POINT_FEATURES)), dtype=np.float32)
    kept_rows = rows[keep]
    kept_voxel = voxel_of_sorted[keep]
    kept_rank = rank[keep]
    features[kept_voxel, kept_rank, :4] = points[kept_rows, :4]
    features[kept_voxel, kept_rank, 4:] = points[kept_rows, :3] - centers[kept_voxel]

    point_voxel = np.full(points.shape[0], -1, dtype=np.int64)
    point_voxel[rows] = voxel_of_sorted
    num_points = np.minimum(counts, max_points).astype(np.int32)
    return VoxelizedPoints(
        coords=coords, features=features, num_points=num_points, point_voxel=point_voxel
    )
