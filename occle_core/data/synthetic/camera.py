"""Camera rendering: per-pixel ray casting with per-class appearance, sun shading, texture and
sensor noise, plus the exact 2D semantic labels and depth of every pixel."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from occle_core.data.synthetic.raycast import cast_rays
from occle_core.data.synthetic.rig import CameraSpec
from occle_core.data.synthetic.shapes import Primitives
from occle_core.data.synthetic.windows import camera_windows

#: Direction towards the sun (world frame), and the share of ambient light.
SUN = np.array([0.45, 0.25, 0.86]) / np.linalg.norm([0.45, 0.25, 0.86])
AMBIENT = 0.45
NO_LABEL = 255


@dataclass(frozen=True)
class CameraRender:
    """One rendered image with its ground truth.

    Attributes:
        image: (H, W, 3) uint8 RGB.
        semantic: (H, W) uint8 training class per pixel; 255 for sky.
        depth: (H, W) float32 depth along the optical axis, metres; 0 for sky.
        instance: (H, W) int32 instance id per pixel (0 for stuff and sky).
    """

    image: NDArray[np.uint8]
    semantic: NDArray[np.uint8]
    depth: NDArray[np.float32]
    instance: NDArray[np.int32]


def pixel_rays(spec: CameraSpec) -> NDArray[np.float64]:
    """(H * W, 3) unit rays through the pixel centres, camera frame, row-major."""
    v, u = np.mgrid[0 : spec.height, 0 : spec.width]
    pixels = np.stack([u.ravel() + 0.5, v.ravel() + 0.5, np.ones(u.size)], axis=1)
    rays = pixels @ np.linalg.inv(spec.intrinsics).T
    return rays / np.linalg.norm(rays, axis=1, keepdims=True)


def _texture(points: NDArray[np.float64], cell: float = 0.12) -> NDArray[np.float64]:
    """Deterministic value noise in [-1, 1] attached to world positions (stable across frames)."""
    cells = np.floor(points / cell).astype(np.int64)
    hashed = (cells[:, 0] * 73856093) ^ (cells[:, 1] * 19349663) ^ (cells[:, 2] * 83492791)
    return (hashed % 2048) / 1023.5 - 1.0


def _sky(world_dirs: NDArray[np.float64]) -> NDArray[np.float64]:
    up = np.clip(world_dirs[:, 2], 0.0, 1.0)[:, None]
    horizon, zenith = np.array([200.0, 215.0, 230.0]), np.array([90.0, 140.0, 210.0])
    return horizon * (1.0 - up) + zenith * up


def render_camera(
    primitives: Primitives,
    world_from_lidar: NDArray[np.floating],
    spec: CameraSpec,
    max_range: float,
    rng: np.random.Generator,
) -> CameraRender:
    """Render one camera of the rig.

    Args:
        primitives: the scene at the capture time.
        world_from_lidar: (4, 4) pose of the LiDAR (the rig reference).
        spec: the camera (intrinsics and cam_from_lidar).
        max_range: farthest visible surface, metres.
        rng: randomness for the sensor noise.
    """
    world_from_cam = np.asarray(world_from_lidar, dtype=np.float64) @ np.linalg.inv(
        spec.cam_from_lidar
    )
    cam_rays = pixel_rays(spec)
    world_dirs = cam_rays @ world_from_cam[:3, :3].T
    windows = camera_windows(
        primitives, world_from_cam, spec.intrinsics, spec.width, spec.height, max_range
    )
    hits = cast_rays(primitives, world_from_cam[:3, 3], world_dirs, max_range, windows=windows)
    hit = hits.hit
    index = hits.primitive[hit]

    color = _sky(world_dirs)
    points = world_from_cam[:3, 3] + world_dirs[hit] * hits.distance[hit, None]
    base = primitives.color[index].astype(np.float64)
    texture = 1.0 + primitives.texture[index] * _texture(points)
    shade = AMBIENT + (1.0 - AMBIENT) * np.clip(hits.normal[hit] @ SUN, 0.0, 1.0)
    # Aerial perspective: distant surfaces fade a little towards the horizon colour.
    fog = np.clip(hits.distance[hit] / (2.5 * max_range), 0.0, 0.4)[:, None]
    surface = (base * (texture * shade)[:, None]) * (1.0 - fog) + np.array(
        [200.0, 215.0, 230.0]
    ) * fog
    color[hit] = surface
    color += rng.normal(0.0, 2.0, size=color.shape)

    shape = (spec.height, spec.width)
    semantic = np.full(hits.primitive.shape, NO_LABEL, dtype=np.uint8)
    semantic[hit] = primitives.label[index]
    instance = np.zeros(hits.primitive.shape, dtype=np.int32)
    instance[hit] = primitives.instance[index]
    depth = np.zeros(hits.primitive.shape, dtype=np.float32)
    depth[hit] = hits.distance[hit] * cam_rays[hit, 2]
    return CameraRender(
        image=np.clip(color, 0, 255).astype(np.uint8).reshape(*shape, 3),
        semantic=semantic.reshape(shape),
        depth=depth.reshape(shape),
        instance=instance.reshape(shape),
    )
