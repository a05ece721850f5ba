"""One nuScenes key frame: the LIDAR_TOP sweep, six camera images and their calibration.

Calibration is read from a JSON file with this schema (row-major matrices), which a small export
from the nuScenes devkit or an mmdetection3d info file produces::

    {"sample_token": str, "timestamp_s": float,
     "lidar": {"file": str, "lidar2ego": 4x4},
     "ego2global": 4x4,
     "cameras": {"CAM_FRONT": {"file": str, "cam2img": 3x3, "lidar2cam": 4x4,
                               "timestamp_s": float}, ...}}

The Frame is referenced to the **ego** frame (the Occ3D grid frame): points are moved from the
LiDAR to the ego frame, and each camera's extrinsic becomes ``lidar2cam @ inv(lidar2ego)``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from occle_core.errors import DataFormatError
from occle_core.frame import Frame
from occle_core.geometry.aggregate import merge_clouds
from occle_core.geometry.camera import CameraModel
from occle_core.geometry.transforms import invert_rigid
from occle_core.io.binary import read_bytes, read_records
from occle_core.io.images import read_image

Path_ = str | os.PathLike[str]

NUSCENES_CAMERAS = (
    "CAM_FRONT",
    "CAM_FRONT_RIGHT",
    "CAM_FRONT_LEFT",
    "CAM_BACK",
    "CAM_BACK_LEFT",
    "CAM_BACK_RIGHT",
)
NUSCENES_IMAGE_SIZE = (1600, 900)


@dataclass(frozen=True)
class CameraCalibration:
    """One camera of a nuScenes sample.

    Attributes:
        file: image path relative to the data root.
        intrinsics: (3, 3) cam2img.
        lidar2cam: (4, 4) LiDAR -> camera transform (with ego-motion compensation: the LiDAR
            at the key frame's time, the camera at its own).
        timestamp: capture time, seconds.
        cam2ego: (4, 4) camera -> ego, the mounting alone, where the source records it
            (`lidar2cam` = inv(cam2ego) @ inv(ego2global at the camera time) @ ego2global @
            lidar2ego).
    """

    file: str
    intrinsics: NDArray[np.float64]
    lidar2cam: NDArray[np.float64]
    timestamp: float
    cam2ego: NDArray[np.float64] | None = None


@dataclass(frozen=True)
class LidarSweep:
    """One earlier LiDAR sweep (nuScenes records 20 Hz sweeps between the 2 Hz key frames).

    Attributes:
        file: `.pcd.bin` path relative to the data root (or absolute).
        lidar2ego: (4, 4) LiDAR -> ego at the sweep's time.
        ego2global: (4, 4) ego pose at the sweep's time.
        timestamp: capture time, seconds.
    """

    file: str
    lidar2ego: NDArray[np.float64]
    ego2global: NDArray[np.float64]
    timestamp: float


@dataclass(frozen=True)
class NuScenesCalibration:
    """Calibration of one nuScenes sample (see the module docstring for the file schema).

    Attributes:
        sample_token: the sample (key frame) token.
        timestamp: key frame time, seconds.
        lidar_file: the key frame's LIDAR_TOP sweep, relative to the data root.
        lidar2ego: (4, 4) LiDAR -> ego.
        ego2global: (4, 4) ego pose.
        cameras: calibration per camera name.
        sweeps: earlier sweeps, newest first (from info files; the JSON schema has none).
        scene: scene name or token where the source records one, else "".
    """

    sample_token: str
    timestamp: float
    lidar_file: str
    lidar2ego: NDArray[np.float64]
    ego2global: NDArray[np.float64]
    cameras: dict[str, CameraCalibration]
    sweeps: tuple[LidarSweep, ...] = ()
    scene: str = ""


def _matrix(
    source: Path_, field: str, value: object, shape: tuple[int, int]
) -> NDArray[np.float64]:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataFormatError(
            source, f"field '{field}' is not numeric", f"a {shape[0]}x{shape[1]} matrix"
        ) from None
    if array.shape != shape or not np.isfinite(array).all():
        raise DataFormatError(
            source,
            f"field '{field}' has shape {array.shape}",
            f"a finite {shape[0]}x{shape[1]} matrix",
        )
    return array


def _number(source: Path_, field: str, value: object) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise DataFormatError(
            source, f"field '{field}' is {value!r}", "a number (seconds)"
        ) from None
    if not np.isfinite(number):
        raise DataFormatError(source, f"field '{field}' is {number}", "a finite number (seconds)")
    return number


def _optional(node: object, key: str, default: object) -> object:
    return node.get(key, default) if isinstance(node, dict) else default


def _field(source: Path_, mapping: object, path: str) -> object:
    node = mapping
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            raise DataFormatError(
                source, f"missing field '{path}'", "the nuScenes calibration schema"
            )
        node = node[part]
    return node


def read_nuscenes_calibration(path: Path_) -> NuScenesCalibration:
    """Read a sample calibration JSON.

    Raises:
        DataFormatError: invalid JSON, a missing field (named with its dotted path), bad matrices.
    """
    try:
        data = json.loads(read_bytes(path, "nuScenes calibration JSON"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DataFormatError(path, f"invalid JSON ({error})") from None
    cameras_node = _field(path, data, "cameras")
    if not isinstance(cameras_node, dict) or not cameras_node:
        raise DataFormatError(path, "field 'cameras' is empty", "one entry per camera")
    cameras = {}
    for name in cameras_node:
        prefix = f"cameras.{name}"
        cameras[name] = CameraCalibration(
            file=str(_field(path, data, f"{prefix}.file")),
            intrinsics=_matrix(
                path, f"{prefix}.cam2img", _field(path, data, f"{prefix}.cam2img"), (3, 3)
            ),
            lidar2cam=_matrix(
                path, f"{prefix}.lidar2cam", _field(path, data, f"{prefix}.lidar2cam"), (4, 4)
            ),
            timestamp=_number(
                path, f"{prefix}.timestamp_s", _optional(cameras_node[name], "timestamp_s", 0.0)
            ),
        )
    return NuScenesCalibration(
        sample_token=str(_field(path, data, "sample_token")),
        timestamp=_number(path, "timestamp_s", _field(path, data, "timestamp_s")),
        lidar_file=str(_field(path, data, "lidar.file")),
        lidar2ego=_matrix(path, "lidar.lidar2ego", _field(path, data, "lidar.lidar2ego"), (4, 4)),
        ego2global=_matrix(path, "ego2global", _field(path, data, "ego2global"), (4, 4)),
        cameras=cameras,
    )


def read_nuscenes_lidar(path: Path_) -> NDArray[np.float32]:
    """Read a nuScenes `.pcd.bin` sweep: (N, 5) float32 x, y, z, intensity, ring index."""
    return read_records(
        path, np.float32, 5, "nuScenes LiDAR sweep (float32 x, y, z, intensity, ring)"
    )


#: Sweep returns this close to their sensor hit the ego vehicle's own body (mmdetection3d drops
#: them too); the key sweep of nuScenes is already free of them.
SWEEP_MIN_RANGE_M = 1.0


def sweep_points(
    root: Path_, calibration: NuScenesCalibration, count: int
) -> list[tuple[NDArray[np.float32], NDArray[np.float64]]]:
    """The first `count` earlier sweeps of a sample (newest first), each with the transform that
    takes it into the key frame's ego frame.

    A sweep point goes LiDAR -> ego at the sweep's time -> global -> ego at the key frame's
    time: ``inv(key ego2global) @ sweep ego2global @ sweep lidar2ego``. Returns closer than
    `SWEEP_MIN_RANGE_M` to the LiDAR are dropped.

    Returns:
        (points (N_i, 5) float32 x, y, z, intensity, ring in the sweep's LiDAR frame,
        key_ego_from_sweep_lidar (4, 4)) per sweep.
    """
    key_from_global = invert_rigid(calibration.ego2global)
    sweeps = []
    for sweep in calibration.sweeps[:count]:
        points = read_nuscenes_lidar(Path(root) / sweep.file)
        points = points[np.linalg.norm(points[:, :3], axis=1) >= SWEEP_MIN_RANGE_M]
        sweeps.append((points, key_from_global @ sweep.ego2global @ sweep.lidar2ego))
    return sweeps


def load_nuscenes_sample(
    root: Path_,
    calibration: Path_ | NuScenesCalibration,
    cameras: tuple[str, ...] = NUSCENES_CAMERAS,
    load_images: bool = True,
    sweeps: int = 0,
) -> Frame:
    """Load one sample as a Frame in the ego frame.

    Args:
        root: folder the calibration's relative file paths start from.
        calibration: the calibration JSON (or its parsed form).
        cameras: cameras to load, in this order.
        load_images: False to skip decoding the JPEGs (cameras are still calibrated with the
            nominal 1600 x 900 size).
        sweeps: earlier LiDAR sweeps to aggregate into the key frame (at most the ones the
            calibration lists; the key sweep alone has about 35 k points, 10 sweeps ~ 0.5 s).

    Returns:
        Frame with points (N, 5) x, y, z, intensity, ring in the ego frame at the key frame's
        time (the key sweep first, then each earlier sweep moved with its own ego pose), one
        image per camera, pose ego2global.
    """
    calib = (
        calibration
        if isinstance(calibration, NuScenesCalibration)
        else read_nuscenes_calibration(calibration)
    )
    base = Path(root)
    key = read_nuscenes_lidar(base / calib.lidar_file)
    earlier = sweep_points(base, calib, sweeps) if sweeps > 0 else []
    # Oldest first in, key sweep first out: the mmdetection3d order the models train on.
    points, _ = merge_clouds(
        [cloud for cloud, _ in earlier[::-1]] + [key],
        [transform for _, transform in earlier[::-1]] + [calib.lidar2ego],
        newest_first=True,
    )
    lidar_from_ego = invert_rigid(calib.lidar2ego)
    images, models = [], []
    for name in cameras:
        if name not in calib.cameras:
            raise DataFormatError(
                str(calibration) if not isinstance(calibration, NuScenesCalibration) else name,
                f"camera {name} not in calibration",
                f"one of {sorted(calib.cameras)}",
            )
        cam = calib.cameras[name]
        width, height = NUSCENES_IMAGE_SIZE
        if load_images:
            image = read_image(base / cam.file)
            height, width = image.shape[:2]
            images.append(image)
        models.append(
            CameraModel(name, cam.intrinsics, cam.lidar2cam @ lidar_from_ego, width, height)
        )
    return Frame(
        points=points,
        images=images,
        cameras=models,
        pose=calib.ego2global,
        time=calib.timestamp,
        frame_id=calib.sample_token,
    )
