"""KITTI odometry `calib.txt`: projection matrices P0..P3 and the velodyne-to-cam0 transform Tr."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from occle_core.errors import DataFormatError
from occle_core.geometry.camera import CameraModel
from occle_core.geometry.transforms import to_homogeneous
from occle_core.io.atomic import atomic_write_bytes
from occle_core.io.binary import read_bytes

REQUIRED_KEYS = ("P0", "P1", "P2", "P3", "Tr")
_CAMERA_OF_IMAGE = {"image_0": "P0", "image_1": "P1", "image_2": "P2", "image_3": "P3"}


@dataclass(frozen=True)
class KittiCalibration:
    """Calibration of one KITTI odometry sequence.

    Attributes:
        projections: "P0".."P3" -> (3, 4) projection from rectified cam0 coordinates to pixels.
        velo_to_cam0: (4, 4) Tr, velodyne frame -> rectified cam0 frame.
        source: file it was read from.
    """

    projections: dict[str, NDArray[np.float64]]
    velo_to_cam0: NDArray[np.float64]
    source: str = ""

    def camera(self, image: str = "image_2", width: int = 1241, height: int = 376) -> CameraModel:
        """The camera of an image folder ("image_0".."image_3"), referenced to the velodyne."""
        key = _CAMERA_OF_IMAGE.get(image)
        if key is None:
            raise ValueError(
                f"unknown KITTI image folder {image!r}; one of {list(_CAMERA_OF_IMAGE)}"
            )
        return CameraModel.from_projection_matrix(
            image, self.projections[key], self.velo_to_cam0, width, height
        )

    def lidar_to_image(self, image: str = "image_2") -> NDArray[np.float64]:
        """(3, 4) matrix P @ Tr from homogeneous velodyne points to homogeneous pixels."""
        return self.projections[_CAMERA_OF_IMAGE[image]] @ self.velo_to_cam0


def read_calib(path: str | os.PathLike[str]) -> KittiCalibration:
    """Parse a KITTI odometry `calib.txt` (lines ``KEY: 12 floats``).

    Raises:
        DataFormatError: naming the file and the key, for missing keys or malformed values.
    """
    text = read_bytes(path, "calibration").decode("utf-8", errors="replace")
    values: dict[str, NDArray[np.float64]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, rest = line.partition(":")
        if not sep:
            raise DataFormatError(path, f"line {number} has no 'KEY:'", "lines 'P0: 12 floats'")
        try:
            numbers = np.array([float(v) for v in rest.split()], dtype=np.float64)
        except ValueError:
            raise DataFormatError(
                path, f"key {key.strip()!r} (line {number}) holds non-numbers", "12 floats"
            ) from None
        values[key.strip()] = numbers
    missing = [key for key in REQUIRED_KEYS if key not in values]
    if missing:
        raise DataFormatError(
            path, f"missing calibration keys {missing}", f"all of {list(REQUIRED_KEYS)}"
        )
    for key in REQUIRED_KEYS:
        if values[key].size != 12:
            raise DataFormatError(path, f"key {key!r} holds {values[key].size} values", "12")
        if not np.isfinite(values[key]).all():
            raise DataFormatError(path, f"key {key!r} holds a NaN or infinite value", "finite")
    tr = to_homogeneous(values["Tr"].reshape(3, 4))
    _check_rigid(tr, path)
    return KittiCalibration(
        projections={key: values[key].reshape(3, 4) for key in ("P0", "P1", "P2", "P3")},
        velo_to_cam0=tr,
        source=str(path),
    )


def _check_rigid(tr: NDArray[np.float64], path: str | os.PathLike[str]) -> None:
    """Tr is a rotation and a translation (the published ones are orthonormal to ~1e-7): a
    singular or scaled Tr would silently skew every pose and projection."""
    rotation = tr[:3, :3]
    error = float(np.abs(rotation @ rotation.T - np.eye(3)).max())
    if error > 1e-3 or float(np.linalg.det(rotation)) <= 0:
        raise DataFormatError(
            path,
            f"key 'Tr' is not a rigid transform (rotation off orthonormal by {error:.3g}, "
            f"determinant {np.linalg.det(rotation):.3g})",
            "a 3x4 rotation + translation",
        )


def write_calib(path: str | os.PathLike[str], calib: KittiCalibration) -> None:
    """Write a `calib.txt` in the KITTI odometry layout (values in %.12e)."""
    lines = []
    for key in ("P0", "P1", "P2", "P3"):
        lines.append(f"{key}: " + " ".join(f"{v:.12e}" for v in calib.projections[key].ravel()))
    lines.append("Tr: " + " ".join(f"{v:.12e}" for v in calib.velo_to_cam0[:3, :].ravel()))
    atomic_write_bytes(path, ("\n".join(lines) + "\n").encode())
