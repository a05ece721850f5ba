"""The y-mirror of a sensor frame: the scene reflected across the x-z plane of the reference
(LiDAR / grid) frame, with each camera changed so that it still projects the mirrored points
onto its horizontally flipped image.

Training mirrors half of its samples this way (`occle_core.train.augment`, `flip_y`), and the
inference option `mirror_occupancy` (`occle_core.runtime.ModelRunner`) runs a frame and its
mirror and decides occupancy from both. For a camera, cx' = W - cx and
cam_from_ref' = F cam_from_ref M with M = diag(1, -1, 1) in the reference frame and
F = diag(-1, 1, 1) in the camera frame; the pose becomes world_from_ref M.
"""

from __future__ import annotations

import numpy as np

from occle_core.frame import Frame
from occle_core.geometry.camera import CameraModel
from occle_core.geometry.grid import GridSpec

MIRROR_Y = np.diag([1.0, -1.0, 1.0, 1.0])
_MIRROR_X_CAMERA = np.diag([-1.0, 1.0, 1.0, 1.0])


def y_symmetric(grid: GridSpec) -> bool:
    """Whether mirroring y maps the grid's voxels onto its voxels."""
    low, high = grid.origin[1], grid.upper[1]
    return bool(np.isclose(low, -high, atol=1e-6))


def mirrors_onto_itself(grid: GridSpec) -> bool:
    """Whether the y-mirror maps the grid's voxel array onto itself: symmetric about y = 0 with
    y as array axis 1, the axis along which mirrored labels and logits are flipped back."""
    return y_symmetric(grid) and grid.axis_order[1] == "y"


def mirror_camera_y(camera: CameraModel) -> CameraModel:
    """The camera that sees the y-mirrored scene as the horizontally flipped image."""
    intrinsics = np.array(camera.intrinsics, dtype=np.float64)
    intrinsics[0, 2] = camera.width - intrinsics[0, 2]
    extrinsic = _MIRROR_X_CAMERA @ np.asarray(camera.cam_from_ref, dtype=np.float64) @ MIRROR_Y
    return CameraModel(camera.name, intrinsics, extrinsic, camera.width, camera.height)


def mirror_frame_y(frame: Frame) -> Frame:
    """The frame mirrored across the x-z plane: points (N, C) with y negated, every image
    (H, W, 3) flipped horizontally, cameras by `mirror_camera_y`, pose world_from_ref M."""
    points = frame.points.copy()
    points[:, 1] = -points[:, 1]
    return Frame(
        points,
        [np.ascontiguousarray(image[:, ::-1]) for image in frame.images],
        [mirror_camera_y(camera) for camera in frame.cameras],
        frame.pose @ MIRROR_Y,  # world_from_mirrored = world_from_ref @ M
        frame.time,
        frame.frame_id,
    )
