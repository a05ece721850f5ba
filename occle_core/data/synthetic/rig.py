"""The synthetic sensor rig: an HDL-64E-like LiDAR and KITTI-like cameras, at two scales.

The rig is camera agnostic: any number of cameras, each with its own intrinsics and extrinsic
(`cam_from_lidar`). The KITTI-like rig mimics the odometry calibration: cam0 is the reference
rectified camera, `Tr` maps the velodyne to cam0, and P0..P3 are K [I | t] with the stereo
offsets of KITTI, so `calib.txt` looks and works like the real one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from occle_core.geometry.camera import CameraModel
from occle_core.geometry.grid import SEMANTICKITTI_GRID, GridSpec


@dataclass(frozen=True)
class LidarSpec:
    """A spinning multi-beam LiDAR.

    Attributes:
        beams: number of lasers (rows of the range image).
        elevation_min_deg: lowest beam elevation, degrees.
        elevation_max_deg: highest beam elevation, degrees.
        azimuth_steps: firings per revolution (columns of the range image).
        max_range: farthest return, metres.
        min_range: nearest return (closer hits are discarded), metres.
        range_noise: standard deviation of the range error, metres.
        dropout: probability that a return is lost.
        mount_height: height of the optical centre above the road, metres.
    """

    beams: int = 64
    elevation_min_deg: float = -24.9
    elevation_max_deg: float = 2.0
    azimuth_steps: int = 2000
    max_range: float = 80.0
    min_range: float = 2.5
    range_noise: float = 0.015
    dropout: float = 0.03
    mount_height: float = 1.73

    def elevations(self) -> NDArray[np.float64]:
        """(B,) beam elevations in radians, top beam first (like a range image)."""
        return np.deg2rad(np.linspace(self.elevation_max_deg, self.elevation_min_deg, self.beams))

    def azimuths(self) -> NDArray[np.float64]:
        """(A,) azimuths in radians, from +pi going clockwise (column 0 looks backwards)."""
        return np.pi - 2.0 * np.pi * (np.arange(self.azimuth_steps) + 0.5) / self.azimuth_steps

    def directions(self) -> NDArray[np.float64]:
        """(B * A, 3) unit ray directions in the LiDAR frame, row-major over (beam, azimuth)."""
        elevation = self.elevations()[:, None]
        azimuth = self.azimuths()[None, :]
        dirs = np.stack(
            np.broadcast_arrays(
                np.cos(elevation) * np.cos(azimuth),
                np.cos(elevation) * np.sin(azimuth),
                np.sin(elevation),
            ),
            axis=-1,
        )
        return dirs.reshape(-1, 3)

    def bin_of(
        self, xyz: NDArray[np.floating]
    ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.bool_]]:
        """Range-image bin (row, column) of points in the LiDAR frame.

        Returns:
            row, column, and a mask of points within half a beam spacing of some beam.
        """
        planar = np.hypot(xyz[:, 0], xyz[:, 1])
        elevation = np.arctan2(xyz[:, 2], planar)
        spacing = np.deg2rad(self.elevation_max_deg - self.elevation_min_deg) / max(
            self.beams - 1, 1
        )
        row_f = (np.deg2rad(self.elevation_max_deg) - elevation) / spacing
        row = np.rint(row_f).astype(np.int64)
        azimuth = np.arctan2(xyz[:, 1], xyz[:, 0])
        column = np.floor((np.pi - azimuth) / (2.0 * np.pi) * self.azimuth_steps).astype(np.int64)
        column = np.clip(column, 0, self.azimuth_steps - 1)
        valid = (row >= 0) & (row < self.beams)
        return np.clip(row, 0, self.beams - 1), column, valid


@dataclass(frozen=True)
class CameraSpec:
    """One camera of the rig.

    Attributes:
        name: image folder name (e.g. "image_2").
        width: image width, pixels.
        height: image height, pixels.
        intrinsics: (3, 3) K.
        cam_from_lidar: (4, 4) extrinsic.
    """

    name: str
    width: int
    height: int
    intrinsics: NDArray[np.float64]
    cam_from_lidar: NDArray[np.float64]

    def model(self) -> CameraModel:
        return CameraModel(self.name, self.intrinsics, self.cam_from_lidar, self.width, self.height)


@dataclass(frozen=True)
class SensorRig:
    """Everything `occle synth` needs to know about the vehicle's sensors and the voxel grid.

    Attributes:
        lidar: the LiDAR.
        cameras: rendered cameras (image_2 for the KITTI-like rig).
        velo_to_cam0: (4, 4) KITTI `Tr`.
        projections: "P0".."P3" -> (3, 4), written to calib.txt.
        grid: voxel grid of the ground truth, in the LiDAR frame.
        scale: "tiny" or "full".
    """

    lidar: LidarSpec
    cameras: tuple[CameraSpec, ...]
    velo_to_cam0: NDArray[np.float64]
    projections: dict[str, NDArray[np.float64]]
    grid: GridSpec
    scale: str

    def vehicle_from_lidar(self) -> NDArray[np.float64]:
        """(4, 4) LiDAR mount: level, `mount_height` above the vehicle origin on the road."""
        pose = np.eye(4)
        pose[2, 3] = self.lidar.mount_height
        return pose


# KITTI odometry geometry: velodyne axes (x fwd, y left, z up) -> camera axes (x right, y down,
# z fwd), cam0 about 0.27 m behind and 0.08 m below the velodyne.
_VELO_TO_CAM_ROTATION = np.array([[0.0, -1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]])
_VELO_TO_CAM_TRANSLATION = np.array([0.0, -0.08, -0.27])
# Offsets of the four KITTI cameras from cam0 along cam0's x axis, metres (P_i = K [I | K^-1 ...]).
_CAMERA_OFFSETS = {"P0": 0.0, "P1": -0.537, "P2": 0.06, "P3": -0.47}
_FULL = {"width": 1241, "height": 376, "fx": 718.856, "cx": 607.1928, "cy": 185.2157}


def kitti_like_rig(scale: str = "full") -> SensorRig:
    """The KITTI-like rig. "full": 1241 x 376 image, 64 x 2000 LiDAR, 256 x 256 x 32 grid.
    "tiny": a quarter-size image (310 x 94), 32 x 512 LiDAR, 64 x 64 x 8 grid of 0.8 m voxels over
    the same 51.2 x 51.2 x 6.4 m volume, for tests and CPU demos."""
    if scale not in ("full", "tiny"):
        raise ValueError(f"unknown scale {scale!r}; expected 'full' or 'tiny'")
    factor = 1.0 if scale == "full" else 0.25
    width, height = round(_FULL["width"] * factor), round(_FULL["height"] * factor)
    k = np.array(
        [
            [_FULL["fx"] * factor, 0.0, _FULL["cx"] * factor],
            [0.0, _FULL["fx"] * factor, _FULL["cy"] * factor],
            [0.0, 0.0, 1.0],
        ]
    )
    tr = np.eye(4)
    tr[:3, :3] = _VELO_TO_CAM_ROTATION
    tr[:3, 3] = _VELO_TO_CAM_TRANSLATION
    projections = {}
    for key, offset in _CAMERA_OFFSETS.items():
        p = np.zeros((3, 4))
        p[:, :3] = k
        p[:, 3] = k @ np.array([offset, 0.0, 0.0])
        projections[key] = p
    image_2 = CameraModel.from_projection_matrix("image_2", projections["P2"], tr, width, height)
    camera = CameraSpec("image_2", width, height, image_2.intrinsics, image_2.cam_from_ref)
    if scale == "full":
        lidar, grid = LidarSpec(), SEMANTICKITTI_GRID
    else:
        lidar = LidarSpec(beams=32, azimuth_steps=512)
        grid = GridSpec(
            origin=SEMANTICKITTI_GRID.origin,
            voxel_size=(0.8, 0.8, 0.8),
            dims=(64, 64, 8),
            frame_id="velodyne",
        )
    return SensorRig(
        lidar=lidar,
        cameras=(camera,),
        velo_to_cam0=tr,
        projections=projections,
        grid=grid,
        scale=scale,
    )
