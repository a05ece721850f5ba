"""nuScenes info files, the common index of nuScenes samples written by mmdetection3d's converter.

Two versions are in use and both are read:

* **v1.1** (mmdetection3d >= 1.1, `{"metainfo", "data_list"}`): per sample `token`, `timestamp`
  (s), `ego2global`, `lidar_points` {`lidar_path`, `lidar2ego`}, `lidar_sweeps` [{`timestamp`,
  `ego2global`, `lidar_points` {`lidar_path`, `lidar2ego`}}], `images` {CAM_*: `img_path`,
  `cam2img`, `lidar2cam`, `timestamp`}. Paths are bare file names under `samples/<sensor>/`.
* **legacy** (mmdetection3d < 1.1, BEVFormer / BEVDet / the Occ3D baselines, `{"infos",
  "metadata"}`): per sample `token`, `timestamp` (us), `lidar_path`, `lidar2ego_rotation`
  (quaternion w, x, y, z) / `_translation`, `ego2global_rotation` / `_translation`, `sweeps`
  [{`data_path`, `sensor2ego_*`, `ego2global_*`, `timestamp`}], `cams` {CAM_*: `data_path`,
  `cam_intrinsic`, `sensor2lidar_rotation` / `_translation`, `timestamp`}, optionally
  `scene_token` / `scene_name` / `occ_path`.

Info files are pickles, and unpickling runs code: they are read with an unpickler that builds
only plain containers, numbers, strings and numpy arrays, and refuses anything else by name.

Every sample becomes a `NuScenesCalibration` whose file paths are relative to the data root, so
`load_nuscenes_sample(root, calibration, sweeps=N)` loads it.
"""

from __future__ import annotations

import io
import os
import pickle
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

import numpy as np
from numpy.typing import NDArray

from occle_core.data.nuscenes.sample import (
    CameraCalibration,
    LidarSweep,
    NuScenesCalibration,
)
from occle_core.errors import DataFormatError
from occle_core.geometry.rotations import rotation_from_wxyz
from occle_core.geometry.transforms import invert_rigid
from occle_core.io.binary import read_bytes

Path_ = str | os.PathLike[str]

#: What an info pickle may construct: numpy arrays, dtypes and scalars (two module spellings:
#: numpy 1 and numpy 2), and the codec numpy uses for array bytes under protocol 2.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}


class _InfoUnpickler(pickle.Unpickler):
    def __init__(self, data: bytes, source: Path_):
        super().__init__(io.BytesIO(data))
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED_GLOBALS:
            raise DataFormatError(
                self.source,
                f"the pickle wants to build {module}.{name}",
                "an info file of plain lists, dicts, numbers and numpy arrays",
            )
        return super().find_class(module, name)


def load_info_pickle(path: Path_) -> Any:
    """Unpickle an info file with the restricted unpickler.

    Raises:
        DataFormatError: missing or truncated file, or an object outside the allowed set.
    """
    data = read_bytes(path, "nuScenes info file (.pkl)")
    try:
        return _InfoUnpickler(data, path).load()
    except DataFormatError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as error:
        raise DataFormatError(path, f"not a readable pickle ({error})", "an info file") from None


class _Record:
    """Field access into one sample of an info file; errors name the file and the field path."""

    def __init__(self, source: Path_, node: object, where: str):
        self.source = source
        self.node = node
        self.where = where

    def child(self, key: str) -> _Record:
        return _Record(self.source, self.get(key), f"{self.where}.{key}")

    def entries(self, key: str) -> list[_Record]:
        """The records of an optional list field, named `where.key[i]` (none when absent)."""
        if not self.has(key):
            return []
        return [
            _Record(self.source, node, f"{self.where}.{key}[{index}]")
            for index, node in enumerate(self.get(key))
        ]

    def has(self, key: str) -> bool:
        return isinstance(self.node, Mapping) and key in self.node

    def get(self, key: str) -> Any:
        if not isinstance(self.node, Mapping) or key not in self.node:
            raise DataFormatError(
                self.source, f"missing field '{self.where}.{key}'", "a nuScenes info sample"
            )
        return self.node[key]

    def matrix(self, key: str, shape: tuple[int, int]) -> NDArray[np.float64]:
        try:
            array = np.asarray(self.get(key), dtype=np.float64)
        except (TypeError, ValueError):
            array = np.zeros(0)
        if array.shape != shape or not np.isfinite(array).all():
            raise DataFormatError(
                self.source,
                f"field '{self.where}.{key}' has shape {array.shape}",
                f"a finite {shape[0]}x{shape[1]} matrix",
            )
        return array

    def rigid(self, rotation: str, translation: str) -> NDArray[np.float64]:
        """(4, 4) from a (w, x, y, z) quaternion field (or a 3x3 matrix) and a translation."""
        value = np.asarray(self.get(rotation), dtype=np.float64)
        if value.shape == (3, 3):
            rot = value
        elif value.shape == (4,) and np.linalg.norm(value) > 0:
            rot = rotation_from_wxyz(value)
        else:
            raise DataFormatError(
                self.source,
                f"field '{self.where}.{rotation}' has shape {value.shape}",
                "a (w, x, y, z) quaternion or a 3x3 rotation",
            )
        shift = np.asarray(self.get(translation), dtype=np.float64).reshape(-1)
        if shift.shape != (3,):
            raise DataFormatError(
                self.source, f"field '{self.where}.{translation}' has {shift.size} values", "3"
            )
        pose = np.eye(4)
        pose[:3, :3], pose[:3, 3] = rot, shift
        return pose

    def number(self, key: str, scale: float = 1.0) -> float:
        try:
            value = float(self.get(key)) * scale
        except (TypeError, ValueError):
            raise DataFormatError(
                self.source, f"field '{self.where}.{key}' is {self.get(key)!r}", "a number"
            ) from None
        return value


def data_relative_path(path: str, folder: str) -> str:
    """A sensor file path of an info file made relative to the nuScenes data root.

    Converters store absolute or `./data/nuscenes/...` paths (kept from the `samples/` or
    `sweeps/` component on) or bare file names (v1.1: they live in `folder`, e.g.
    `samples/CAM_FRONT`).
    """
    parts = PurePosixPath(str(path).replace("\\", "/")).parts
    for anchor in ("samples", "sweeps"):
        if anchor in parts:
            index = len(parts) - 1 - parts[::-1].index(anchor)
            return str(PurePosixPath(*parts[index:]))
    return str(PurePosixPath(folder) / parts[-1]) if parts else folder


def _v11_sample(source: Path_, sample: _Record) -> NuScenesCalibration:
    lidar = sample.child("lidar_points")
    lidar2ego = lidar.matrix("lidar2ego", (4, 4))
    cameras = {}
    for name in sample.get("images"):
        camera = sample.child("images").child(name)
        cameras[name] = CameraCalibration(
            file=data_relative_path(str(camera.get("img_path")), f"samples/{name}"),
            intrinsics=camera.matrix("cam2img", (3, 3)),
            lidar2cam=camera.matrix("lidar2cam", (4, 4)),
            timestamp=camera.number("timestamp") if camera.has("timestamp") else 0.0,
            cam2ego=camera.matrix("cam2ego", (4, 4)) if camera.has("cam2ego") else None,
        )
    sweeps = []
    for sweep in sample.entries("lidar_sweeps"):
        points = sweep.child("lidar_points")
        sweeps.append(
            LidarSweep(
                file=data_relative_path(str(points.get("lidar_path")), "sweeps/LIDAR_TOP"),
                lidar2ego=points.matrix("lidar2ego", (4, 4)),
                ego2global=sweep.matrix("ego2global", (4, 4)),
                timestamp=sweep.number("timestamp"),
            )
        )
    return NuScenesCalibration(
        sample_token=str(sample.get("token")),
        timestamp=sample.number("timestamp"),
        lidar_file=data_relative_path(str(lidar.get("lidar_path")), "samples/LIDAR_TOP"),
        lidar2ego=lidar2ego,
        ego2global=sample.matrix("ego2global", (4, 4)),
        cameras=cameras,
        sweeps=tuple(sweeps),
        scene=_scene(sample),
    )


def _legacy_sample(source: Path_, sample: _Record) -> NuScenesCalibration:
    lidar2ego = sample.rigid("lidar2ego_rotation", "lidar2ego_translation")
    cameras = {}
    for name in sample.get("cams"):
        camera = sample.child("cams").child(name)
        cam_to_lidar = camera.rigid("sensor2lidar_rotation", "sensor2lidar_translation")
        cameras[name] = CameraCalibration(
            file=data_relative_path(str(camera.get("data_path")), f"samples/{name}"),
            intrinsics=camera.matrix("cam_intrinsic", (3, 3)),
            lidar2cam=invert_rigid(cam_to_lidar),
            timestamp=camera.number("timestamp", 1e-6) if camera.has("timestamp") else 0.0,
            cam2ego=camera.rigid("sensor2ego_rotation", "sensor2ego_translation")
            if camera.has("sensor2ego_rotation")
            else None,
        )
    sweeps = []
    for sweep in sample.entries("sweeps"):
        sweeps.append(
            LidarSweep(
                file=data_relative_path(str(sweep.get("data_path")), "sweeps/LIDAR_TOP"),
                lidar2ego=sweep.rigid("sensor2ego_rotation", "sensor2ego_translation"),
                ego2global=sweep.rigid("ego2global_rotation", "ego2global_translation"),
                timestamp=sweep.number("timestamp", 1e-6),
            )
        )
    return NuScenesCalibration(
        sample_token=str(sample.get("token")),
        timestamp=sample.number("timestamp", 1e-6),
        lidar_file=data_relative_path(str(sample.get("lidar_path")), "samples/LIDAR_TOP"),
        lidar2ego=lidar2ego,
        ego2global=sample.rigid("ego2global_rotation", "ego2global_translation"),
        cameras=cameras,
        sweeps=tuple(sweeps),
        scene=_scene(sample),
    )


def _scene(sample: _Record) -> str:
    """Scene name (or token) if the converter kept one; Occ3D's `occ_path` names the scene too."""
    for key in ("scene_name", "scene_token"):
        if sample.has(key) and sample.get(key):
            return str(sample.get(key))
    if sample.has("occ_path"):
        parts = PurePosixPath(str(sample.get("occ_path"))).parts
        if "gts" in parts and parts.index("gts") + 1 < len(parts):
            return parts[parts.index("gts") + 1]
    return ""


def read_nuscenes_infos(path: Path_) -> list[NuScenesCalibration]:
    """Every sample of an info file (v1.1 or legacy), in file order.

    Args:
        path: the `.pkl` info file.

    Returns:
        One calibration per sample; file paths relative to the nuScenes data root.

    Raises:
        DataFormatError: neither layout, or a sample with a missing / malformed field (named
            as `data_list[i].field.subfield`).
    """
    content = load_info_pickle(path)
    if isinstance(content, Mapping) and "data_list" in content:
        samples, build, key = content["data_list"], _v11_sample, "data_list"
    elif isinstance(content, Mapping) and "infos" in content:
        samples, build, key = content["infos"], _legacy_sample, "infos"
    else:
        found = sorted(content) if isinstance(content, Mapping) else type(content).__name__
        raise DataFormatError(
            path, f"top level is {found}", "a dict with 'data_list' (v1.1) or 'infos' (legacy)"
        )
    if not isinstance(samples, list):
        raise DataFormatError(path, f"'{key}' is a {type(samples).__name__}", "a list of samples")
    return [build(path, _Record(path, s, f"{key}[{i}]")) for i, s in enumerate(samples)]
