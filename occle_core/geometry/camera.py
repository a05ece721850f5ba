"""Pinhole cameras and the projection of 3D points to pixels for any number of cameras.

Pixel convention: u runs right, v runs down, and pixel (c, r) covers u in [c, c+1), v in [r, r+1)
(so the integer pixel of a projection is ``floor(u), floor(v)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from occle_core.geometry.transforms import invert_rigid


@dataclass(frozen=True, eq=False)
class CameraModel:
    """A calibrated pinhole camera.

    Attributes:
        name: camera name (e.g. "image_2", "CAM_FRONT").
        intrinsics: (3, 3) matrix K.
        cam_from_ref: (4, 4) transform from the frame's reference frame (where the points live,
            normally the LiDAR frame) to the camera's optical frame (x right, y down, z forward).
        width: image width in pixels.
        height: image height in pixels.
    """

    name: str
    intrinsics: NDArray[np.float64]
    cam_from_ref: NDArray[np.float64]
    width: int
    height: int

    def __post_init__(self) -> None:
        k = np.asarray(self.intrinsics, dtype=np.float64)
        t = np.asarray(self.cam_from_ref, dtype=np.float64)
        if k.shape != (3, 3):
            raise ValueError(f"camera {self.name}: intrinsics has shape {k.shape}, expected (3, 3)")
        if t.shape != (4, 4):
            raise ValueError(
                f"camera {self.name}: cam_from_ref has shape {t.shape}, expected (4, 4)"
            )
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"camera {self.name}: image size {self.width}x{self.height} is empty")
        object.__setattr__(self, "intrinsics", k)
        object.__setattr__(self, "cam_from_ref", t)

    @classmethod
    def from_projection_matrix(
        cls,
        name: str,
        projection: NDArray[np.floating],
        rect_from_ref: NDArray[np.floating],
        width: int,
        height: int,
    ) -> CameraModel:
        """Build a camera from a KITTI-style 3x4 projection matrix P = K [I | t].

        KITTI's P2 projects from the rectified cam0 frame and folds the stereo baseline into its
        last column; we split it into K and a translation so that
        ``K @ (cam_from_ref @ X)[:3] == P @ rect_from_ref @ X`` exactly.

        Args:
            name: camera name.
            projection: (3, 4) matrix P.
            rect_from_ref: (4, 4) transform from the reference frame to the rectified frame
                (KITTI odometry: Tr; KITTI object: R0_rect @ Tr_velo_to_cam).
            width: image width in pixels.
            height: image height in pixels.
        """
        p = np.asarray(projection, dtype=np.float64)
        k = p[:, :3].copy()
        offset = np.eye(4)
        offset[:3, 3] = np.linalg.solve(k, p[:, 3])
        return cls(name, k, offset @ np.asarray(rect_from_ref, dtype=np.float64), width, height)

    @property
    def projection(self) -> NDArray[np.float64]:
        """(3, 4) matrix from reference-frame homogeneous points to homogeneous pixels."""
        return self.intrinsics @ self.cam_from_ref[:3, :]

    @property
    def ref_from_cam(self) -> NDArray[np.float64]:
        """(4, 4) camera pose in the reference frame."""
        return invert_rigid(self.cam_from_ref)

    def with_reference(self, cam_from_new_ref: NDArray[np.floating]) -> CameraModel:
        """The same camera with its extrinsic given relative to another reference frame."""
        return CameraModel(
            self.name,
            self.intrinsics,
            np.asarray(cam_from_new_ref, np.float64),
            self.width,
            self.height,
        )


@dataclass(frozen=True)
class PixelProjection:
    """Projection of N points into C cameras.

    Attributes:
        uv: (C, N, 2) float32 pixel coordinates (u right, v down).
        depth: (C, N) float32 distance along each camera's optical axis, metres.
        valid: (C, N) bool, point in front of the camera (depth > min_depth) and inside the image.
    """

    uv: NDArray[np.float32]
    depth: NDArray[np.float32]
    valid: NDArray[np.bool_]

    def pixels(self) -> NDArray[np.int64]:
        """(C, N, 2) integer pixel (column, row) of each projection (meaningful where valid)."""
        return np.floor(self.uv).astype(np.int64)


def project_points(
    xyz: NDArray[np.floating], cameras: Sequence[CameraModel], min_depth: float = 0.1
) -> PixelProjection:
    """Project points given in the reference frame into every camera.

    Args:
        xyz: (N, 3) points in the reference frame.
        cameras: C cameras whose `cam_from_ref` maps that same reference frame.
        min_depth: points closer than this along the optical axis are invalid (behind the camera
            or too close to project stably).

    Returns:
        The projection of every point in every camera, (C, N, ...) arrays.
    """
    points = np.asarray(xyz, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 3:
        raise ValueError(f"project_points: xyz has shape {points.shape}, expected (N, 3)")
    n = points.shape[0]
    c = len(cameras)
    uv = np.zeros((c, n, 2), dtype=np.float32)
    depth = np.zeros((c, n), dtype=np.float32)
    valid = np.zeros((c, n), dtype=bool)
    for index, camera in enumerate(cameras):
        cam = points @ camera.cam_from_ref[:3, :3].T + camera.cam_from_ref[:3, 3]
        z = cam[:, 2]
        in_front = z > min_depth
        # Divide only where the point is in front so that nothing overflows behind the camera.
        safe_z = np.where(in_front, z, 1.0)
        # Bounds are checked on the float32 values that are stored: a coordinate just below
        # the image edge in float64 can round up to the edge itself in float32.
        pix = ((cam @ camera.intrinsics.T)[:, :2] / safe_z[:, None]).astype(np.float32)
        inside = (
            (pix[:, 0] >= 0)
            & (pix[:, 0] < camera.width)
            & (pix[:, 1] >= 0)
            & (pix[:, 1] < camera.height)
        )
        uv[index] = pix
        depth[index] = z
        valid[index] = in_front & inside
    return PixelProjection(uv=uv, depth=depth, valid=valid)
