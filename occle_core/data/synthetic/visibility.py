"""Which voxels the LiDAR observed (SemanticKITTI `.invalid`) and which the current scan cannot
see (`.occluded`), from range images instead of explicit ray traversal.

A voxel is observed by a scan when, in the scan's range image, the beam through its centre
travelled at least as far as the voxel (free space) or stopped inside it (surface): its
distance is at most the measured range plus half the voxel diagonal. Beams that returned nothing
within `max_range` count as free space up to that range; dropped returns tell nothing. A voxel is
occluded in the current scan when a return exists in its beam and the voxel lies behind it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from occle_core.data.synthetic.rig import LidarSpec
from occle_core.geometry.transforms import invert_rigid, transform_points


@dataclass(frozen=True)
class ScanView:
    """A scan's range image and where it was taken.

    Attributes:
        world_from_lidar: (4, 4) LiDAR pose.
        range_image: (B, A) float32 (inf = no return within range, nan = dropped).
    """

    world_from_lidar: NDArray[np.float64]
    range_image: NDArray[np.float32]


def _beam_ranges(
    centers_world: NDArray[np.float64], view: ScanView, spec: LidarSpec
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
    """Distance of every voxel centre from the scan origin, the raw range measured in its beam
    (inf / nan as in the range image), and whether the centre lies within the beams' fan."""
    local = transform_points(invert_rigid(view.world_from_lidar), centers_world)
    row, column, in_fov = spec.bin_of(local)
    measured = view.range_image[row, column].astype(np.float64)
    return np.linalg.norm(local, axis=1), measured, in_fov


def observed_voxels(
    centers_world: NDArray[np.float64], views: Sequence[ScanView], spec: LidarSpec, margin: float
) -> NDArray[np.bool_]:
    """(M,) True for voxel centres observed by at least one scan.

    Args:
        centers_world: (M, 3) voxel centres in the world frame.
        views: the scans to aggregate.
        spec: the LiDAR model the range images follow.
        margin: tolerance around a return, metres (half the voxel diagonal).
    """
    observed = np.zeros(len(centers_world), dtype=bool)
    for view in views:
        distance, measured, in_fov = _beam_ranges(centers_world, view, spec)
        reach = np.where(np.isinf(measured), spec.max_range, measured)
        with np.errstate(invalid="ignore"):  # nan (dropped) compares False: not observed
            observed |= in_fov & (distance <= reach + margin)
    return observed


def occluded_voxels(
    centers_world: NDArray[np.float64], view: ScanView, spec: LidarSpec, margin: float
) -> NDArray[np.bool_]:
    """(M,) True for voxel centres hidden behind a return of this scan."""
    distance, measured, in_fov = _beam_ranges(centers_world, view, spec)
    with np.errstate(invalid="ignore"):
        return in_fov & np.isfinite(measured) & (distance > measured + margin)
