"""`Frame`: one synchronised sensor snapshot, the input type of every module."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from occle_core.geometry.camera import CameraModel


@dataclass
class Frame:
    """Camera images, LiDAR points and calibration at one instant.

    The reference frame of a Frame is the frame its points are expressed in (the LiDAR frame for
    SemanticKITTI and nuScenes); every camera's `cam_from_ref` and the pose refer to it.

    Attributes:
        points: (N, 4) float32 x, y, z, intensity in the reference frame (extra columns allowed,
            e.g. the nuScenes ring index as a 5th).
        images: one (H, W, 3) uint8 RGB image per camera; may be empty for LiDAR-only use.
        cameras: the calibrated cameras, same order as `images`.
        pose: (4, 4) world_from_ref pose (identity when unknown).
        time: timestamp in seconds.
        frame_id: identifier, e.g. "00/000000" or a nuScenes sample token.
    """

    points: NDArray[np.float32]
    images: list[NDArray[np.uint8]] = field(default_factory=list)
    cameras: list[CameraModel] = field(default_factory=list)
    pose: NDArray[np.float64] = field(default_factory=lambda: np.eye(4))
    time: float = 0.0
    frame_id: str = ""

    def __post_init__(self) -> None:
        if self.points.ndim != 2 or self.points.shape[1] < 4:
            raise ValueError(
                f"Frame {self.frame_id}: points has shape {self.points.shape}, "
                "expected (N, >=4) x, y, z, intensity"
            )
        self.pose = np.asarray(self.pose, dtype=np.float64)
        if self.pose.shape != (4, 4):
            raise ValueError(
                f"Frame {self.frame_id}: pose has shape {self.pose.shape}, expected (4, 4)"
            )
        if self.images and len(self.images) != len(self.cameras):
            raise ValueError(
                f"Frame {self.frame_id}: {len(self.images)} images for {len(self.cameras)} cameras"
            )
        for image, camera in zip(self.images, self.cameras, strict=False):
            if image.shape[:2] != (camera.height, camera.width):
                raise ValueError(
                    f"Frame {self.frame_id}: image of camera {camera.name} is "
                    f"{image.shape[1]}x{image.shape[0]}, calibration says "
                    f"{camera.width}x{camera.height}"
                )

    @property
    def xyz(self) -> NDArray[np.float32]:
        """(N, 3) point positions."""
        return self.points[:, :3]

    @property
    def num_cameras(self) -> int:
        return len(self.cameras)

    def camera_names(self) -> Sequence[str]:
        return [camera.name for camera in self.cameras]
