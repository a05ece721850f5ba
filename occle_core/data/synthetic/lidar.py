"""LiDAR simulation: ray casting with beam geometry, range noise, dropout and material intensity."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from occle_core.data.synthetic.raycast import cast_rays
from occle_core.data.synthetic.rig import LidarSpec
from occle_core.data.synthetic.shapes import Primitives
from occle_core.data.synthetic.windows import lidar_windows


@dataclass(frozen=True)
class LidarScan:
    """One simulated revolution.

    Attributes:
        points: (N, 4) float32 x, y, z, reflectance (0..1) in the LiDAR frame.
        labels: (N,) uint8 training class of each return.
        instance: (N,) int32 instance id of each return (0 for stuff).
        moving: (N,) bool, return from a moving object.
        range_image: (B, A) float32 measured range per beam and azimuth; inf where the ray
            travelled `max_range` without a return, nan where the return was dropped.
    """

    points: NDArray[np.float32]
    labels: NDArray[np.uint8]
    instance: NDArray[np.int32]
    moving: NDArray[np.bool_]
    range_image: NDArray[np.float32]


def simulate_scan(
    primitives: Primitives,
    world_from_lidar: NDArray[np.floating],
    spec: LidarSpec,
    rng: np.random.Generator,
) -> LidarScan:
    """Cast every beam of one revolution into the scene.

    Args:
        primitives: the scene at the scan time (motion during the sweep is not simulated).
        world_from_lidar: (4, 4) pose of the LiDAR.
        spec: beam geometry and error model.
        rng: randomness for noise and dropout.

    Returns:
        The returns, ordered by beam then azimuth, and the range image.
    """
    pose = np.asarray(world_from_lidar, dtype=np.float64)
    local_dirs = spec.directions()
    world_dirs = local_dirs @ pose[:3, :3].T
    windows = lidar_windows(primitives, pose, spec)
    hits = cast_rays(primitives, pose[:3, 3], world_dirs, spec.max_range, windows=windows)
    distance = hits.distance + rng.normal(0.0, spec.range_noise, size=hits.distance.shape)
    kept = hits.hit & (distance >= spec.min_range) & (rng.random(distance.shape) >= spec.dropout)

    range_image = np.where(hits.hit, np.nan, np.inf).astype(np.float32)
    range_image[kept] = distance[kept]
    range_image = range_image.reshape(spec.beams, spec.azimuth_steps)

    index = hits.primitive[kept]
    # Lambertian return: material reflectivity times the cosine of the incidence angle.
    cosine = np.abs(np.sum(hits.normal[kept] * world_dirs[kept], axis=1))
    reflectance = primitives.reflectivity[index] * (0.35 + 0.65 * cosine)
    reflectance = np.clip(reflectance + rng.normal(0.0, 0.02, size=reflectance.shape), 0.0, 1.0)
    xyz = local_dirs[kept] * distance[kept, None]
    points = np.concatenate([xyz, reflectance[:, None]], axis=1).astype(np.float32)
    return LidarScan(
        points=points,
        labels=primitives.label[index],
        instance=primitives.instance[index],
        moving=primitives.is_moving[index],
        range_image=range_image,
    )
