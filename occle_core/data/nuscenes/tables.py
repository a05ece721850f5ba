"""The nuScenes tables themselves (`ROOT/v1.0-trainval/*.json`, the official release format),
read into the same `NuScenesCalibration` samples as the info files, so no converter run is needed.

Six tables are read (the annotation tables are not needed here):

* `scene.json`: `token`, `name`, `first_sample_token`;
* `sample.json`: `token`, `timestamp` (us), `scene_token`, `next` ("" at the end);
* `sample_data.json`: `token`, `sample_token`, `ego_pose_token`, `calibrated_sensor_token`,
  `timestamp` (us), `filename` (relative to the root), `is_key_frame`, `prev`;
* `calibrated_sensor.json`: `token`, `sensor_token`, `translation`, `rotation` (w, x, y, z),
  `camera_intrinsic` (3 x 3, empty for the LiDAR);
* `sensor.json`: `token`, `channel` (LIDAR_TOP, CAM_FRONT, ...);
* `ego_pose.json`: `token`, `translation`, `rotation` (w, x, y, z).

What the info-file converters compute is computed the same way: the key frame's LIDAR_TOP
sample_data gives `lidar2ego` and `ego2global`; each camera's `lidar2cam` carries the ego motion
between the LiDAR and the camera timestamps (camera <- ego at its time <- global <- ego at the
LiDAR time <- LiDAR); the sweeps are the LIDAR_TOP sample_data reached through `prev` from the
key frame's, newest first, up to `max_sweeps` (mmdetection3d's `max_sweeps=10`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from occle_core.data.nuscenes.sample import (
    NUSCENES_CAMERAS,
    CameraCalibration,
    LidarSweep,
    NuScenesCalibration,
)
from occle_core.errors import DataFormatError
from occle_core.geometry.rotations import rotation_from_wxyz
from occle_core.geometry.transforms import invert_rigid

Path_ = str | os.PathLike[str]
#: The tables this reader needs, by file name.
TABLES = ("scene", "sample", "sample_data", "calibrated_sensor", "sensor", "ego_pose")
LIDAR = "LIDAR_TOP"


def is_tables_folder(path: Path_) -> bool:
    """Whether `path` is a folder of nuScenes tables (holds sample.json)."""
    return Path(path).is_dir() and (Path(path) / "sample.json").is_file()


class _Tables:
    """The tables, indexed by token; field errors name the table file, the row and the field."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.rows: dict[str, dict[str, Mapping[str, Any]]] = {}
        for name in TABLES:
            path = folder / f"{name}.json"
            try:
                rows = json.loads(path.read_text())
            except FileNotFoundError:
                raise DataFormatError(
                    path, "missing table", f"the nuScenes tables {TABLES}"
                ) from None
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
                raise DataFormatError(
                    path, f"not readable JSON ({error})", "a list of rows"
                ) from None
            if not isinstance(rows, list) or not all(isinstance(r, Mapping) for r in rows):
                raise DataFormatError(path, "not a list of objects", "a nuScenes table")
            self.rows[name] = {str(self.field(name, row, "token")): row for row in rows}

    def field(self, table: str, row: Mapping[str, Any], key: str) -> Any:
        if key not in row:
            token = row.get("token", "?")
            raise DataFormatError(
                self.folder / f"{table}.json",
                f"row {token} has no field '{key}'",
                "nuScenes schema",
            )
        return row[key]

    def get(self, table: str, token: str, referrer: str) -> Mapping[str, Any]:
        """The row `token` of `table`; `referrer` names who pointed at it (for the error)."""
        try:
            return self.rows[table][token]
        except KeyError:
            raise DataFormatError(
                self.folder / f"{table}.json", f"no row {token!r} ({referrer})", "a known token"
            ) from None

    def rigid(self, table: str, row: Mapping[str, Any]) -> NDArray[np.float64]:
        """(4, 4) transform of a calibrated_sensor or ego_pose row."""
        translation = np.asarray(self.field(table, row, "translation"), dtype=np.float64)
        quaternion = np.asarray(self.field(table, row, "rotation"), dtype=np.float64)
        if translation.shape != (3,) or quaternion.shape != (4,) or not quaternion.any():
            raise DataFormatError(
                self.folder / f"{table}.json",
                f"row {row.get('token')}: translation {translation.shape}, rotation "
                f"{quaternion.shape}",
                "3 translation values and a non-zero (w, x, y, z) quaternion",
            )
        matrix = np.eye(4)
        matrix[:3, :3] = rotation_from_wxyz(quaternion)
        matrix[:3, 3] = translation
        return matrix

    def sensor_channel(self, sample_data: Mapping[str, Any]) -> str:
        calibrated = self.calibrated(sample_data)
        sensor_token = str(self.field("calibrated_sensor", calibrated, "sensor_token"))
        sensor = self.get("sensor", sensor_token, f"calibrated_sensor {calibrated['token']}")
        return str(self.field("sensor", sensor, "channel"))

    def calibrated(self, sample_data: Mapping[str, Any]) -> Mapping[str, Any]:
        token = str(self.field("sample_data", sample_data, "calibrated_sensor_token"))
        return self.get("calibrated_sensor", token, f"sample_data {sample_data['token']}")

    def ego_pose(self, sample_data: Mapping[str, Any]) -> NDArray[np.float64]:
        token = str(self.field("sample_data", sample_data, "ego_pose_token"))
        row = self.get("ego_pose", token, f"sample_data {sample_data['token']}")
        return self.rigid("ego_pose", row)


def _seconds(microseconds: object) -> float:
    return float(microseconds) * 1e-6  # type: ignore[arg-type]


def read_nuscenes_tables(
    folder: Path_,
    max_sweeps: int = 10,
    cameras: tuple[str, ...] = NUSCENES_CAMERAS,
) -> list[NuScenesCalibration]:
    """Every key frame of every scene of a tables folder, scene by scene in time order.

    Args:
        folder: the version folder, e.g. ROOT/v1.0-trainval (file names in it are relative to
            ROOT, the folder above).
        max_sweeps: earlier LIDAR_TOP sweeps listed per sample.
        cameras: camera channels every sample must have.

    Raises:
        DataFormatError: a missing table, row or field, or a sample without a listed camera
            (named by table file, token and field).
    """
    tables = _Tables(Path(folder))
    key_data: dict[tuple[str, str], Mapping[str, Any]] = {}
    for row in tables.rows["sample_data"].values():
        if tables.field("sample_data", row, "is_key_frame"):
            owner = str(tables.field("sample_data", row, "sample_token"))
            key_data[(owner, tables.sensor_channel(row))] = row
    samples = []
    for scene in tables.rows["scene"].values():
        name = str(tables.field("scene", scene, "name"))
        token = str(tables.field("scene", scene, "first_sample_token"))
        while token:
            sample = tables.get("sample", token, f"scene {name}")
            samples.append(_sample(tables, sample, key_data, name, max_sweeps, cameras))
            token = str(tables.field("sample", sample, "next"))
    return samples


def _sample(
    tables: _Tables,
    sample: Mapping[str, Any],
    key_data: Mapping[tuple[str, str], Mapping[str, Any]],
    scene: str,
    max_sweeps: int,
    cameras: tuple[str, ...],
) -> NuScenesCalibration:
    token = str(sample["token"])

    def data_of(channel: str) -> Mapping[str, Any]:
        if (token, channel) not in key_data:
            raise DataFormatError(
                tables.folder / "sample_data.json",
                f"sample {token} has no key-frame {channel} data",
                f"key-frame data of {LIDAR} and {list(cameras)}",
            )
        return key_data[(token, channel)]

    lidar = data_of(LIDAR)
    lidar2ego = tables.rigid("calibrated_sensor", tables.calibrated(lidar))
    ego2global = tables.ego_pose(lidar)
    global_from_lidar = ego2global @ lidar2ego
    calibrations = {}
    for channel in cameras:
        data = data_of(channel)
        calibrated = tables.calibrated(data)
        cam2ego = tables.rigid("calibrated_sensor", calibrated)
        global_from_cam = tables.ego_pose(data) @ cam2ego
        intrinsics = np.asarray(
            tables.field("calibrated_sensor", calibrated, "camera_intrinsic"), dtype=np.float64
        )
        if intrinsics.shape != (3, 3):
            raise DataFormatError(
                tables.folder / "calibrated_sensor.json",
                f"row {calibrated['token']} ({channel}): camera_intrinsic {intrinsics.shape}",
                "a 3x3 matrix",
            )
        calibrations[channel] = CameraCalibration(
            file=str(tables.field("sample_data", data, "filename")),
            intrinsics=intrinsics,
            lidar2cam=invert_rigid(global_from_cam) @ global_from_lidar,
            timestamp=_seconds(tables.field("sample_data", data, "timestamp")),
            cam2ego=cam2ego,
        )
    sweeps: list[LidarSweep] = []
    previous = str(tables.field("sample_data", lidar, "prev"))
    while previous and len(sweeps) < max_sweeps:
        data = tables.get("sample_data", previous, f"prev of a {LIDAR} sample_data")
        sweeps.append(
            LidarSweep(
                file=str(tables.field("sample_data", data, "filename")),
                lidar2ego=tables.rigid("calibrated_sensor", tables.calibrated(data)),
                ego2global=tables.ego_pose(data),
                timestamp=_seconds(tables.field("sample_data", data, "timestamp")),
            )
        )
        previous = str(tables.field("sample_data", data, "prev"))
    return NuScenesCalibration(
        sample_token=token,
        timestamp=_seconds(tables.field("sample", sample, "timestamp")),
        lidar_file=str(tables.field("sample_data", lidar, "filename")),
        lidar2ego=lidar2ego,
        ego2global=ego2global,
        cameras=calibrations,
        sweeps=tuple(sweeps),
        scene=scene,
    )
