"""nuScenes info files (v1.1 and legacy) on the real mmdetection3d info file, and multi-sweep
aggregation into the key frame's ego frame."""

from __future__ import annotations

import collections
import pickle
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from occle_core.data.nuscenes.infos import (
    data_relative_path,
    load_info_pickle,
    read_nuscenes_infos,
)
from occle_core.data.nuscenes.sample import (
    NUSCENES_CAMERAS,
    load_nuscenes_sample,
    read_nuscenes_calibration,
)
from occle_core.errors import DataFormatError
from occle_core.geometry.camera import project_points
from occle_core.geometry.rotations import rotation_from_wxyz, wxyz_from_rotation
from occle_core.geometry.transforms import invert_rigid, transform_points

INFO = "nuscenes/n015-2018-07-24-11-22-45+0800.pkl"
TOKEN = "ca9a282c9e77460f8360f564131a8af5"
LIDAR = "n015-2018-07-24-11-22-45+0800__LIDAR_TOP__1532402927647951.pcd.bin"


def yaw_shift(yaw_deg: float, shift: tuple[float, float, float]) -> np.ndarray:
    angle = np.deg2rad(yaw_deg)
    pose = np.eye(4)
    pose[:2, :2] = [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]
    pose[:3, 3] = shift
    return pose


@pytest.fixture(scope="module")
def info_file(real_data: Path) -> Path:
    return real_data / INFO


@pytest.fixture(scope="module")
def v11(info_file: Path) -> dict[str, Any]:
    content = load_info_pickle(info_file)
    assert isinstance(content, dict)
    return content


def legacy_info(v11: dict[str, Any], sweeps: list[dict[str, Any]]) -> dict[str, Any]:
    """The real sample written the way mmdetection3d < 1.1 (and the Occ3D baselines) store it."""
    sample = v11["data_list"][0]
    lidar2ego = np.asarray(sample["lidar_points"]["lidar2ego"])
    ego2global = np.asarray(sample["ego2global"])
    cams = {}
    for name, camera in sample["images"].items():
        cam_to_lidar = invert_rigid(np.asarray(camera["lidar2cam"]))
        cams[name] = {
            "data_path": f"./data/nuscenes/samples/{name}/{camera['img_path']}",
            "cam_intrinsic": np.asarray(camera["cam2img"]),
            "sensor2lidar_rotation": cam_to_lidar[:3, :3],
            "sensor2lidar_translation": cam_to_lidar[:3, 3],
            "timestamp": round(camera["timestamp"] * 1e6),
        }
    return {
        "metadata": {"version": "v1.0-mini"},
        "infos": [
            {
                "token": sample["token"],
                "timestamp": round(sample["timestamp"] * 1e6),
                "lidar_path": f"./data/nuscenes/samples/LIDAR_TOP/{LIDAR}",
                "lidar2ego_rotation": wxyz_from_rotation(lidar2ego[:3, :3]).tolist(),
                "lidar2ego_translation": lidar2ego[:3, 3].tolist(),
                "ego2global_rotation": wxyz_from_rotation(ego2global[:3, :3]).tolist(),
                "ego2global_translation": ego2global[:3, 3].tolist(),
                "cams": cams,
                "sweeps": sweeps,
                "scene_name": "scene-0061",
            }
        ],
    }


# --- the real v1.1 info file ---------------------------------------------------------------------
@pytest.mark.real_data
def test_real_v11_info_matches_the_calibration_json(info_file: Path, real_data: Path) -> None:
    (calib,) = read_nuscenes_infos(info_file)
    reference = read_nuscenes_calibration(real_data / f"nuscenes/{TOKEN}_calib.json")
    assert calib.sample_token == TOKEN and calib.timestamp == pytest.approx(1532402927.647951)
    assert calib.lidar_file == f"samples/LIDAR_TOP/{LIDAR}"
    assert calib.sweeps == () and calib.scene == ""  # this converter kept neither
    assert sorted(calib.cameras) == sorted(NUSCENES_CAMERAS)
    np.testing.assert_array_equal(calib.lidar2ego, reference.lidar2ego)
    np.testing.assert_array_equal(calib.ego2global, reference.ego2global)
    for name, camera in calib.cameras.items():
        assert camera.file.startswith(f"samples/{name}/n015-2018-07-24-11-22-45+0800__{name}__")
        np.testing.assert_array_equal(camera.lidar2cam, reference.cameras[name].lidar2cam)
        np.testing.assert_array_equal(camera.intrinsics, reference.cameras[name].intrinsics)
        assert camera.timestamp == pytest.approx(reference.cameras[name].timestamp)


@pytest.mark.real_data
def test_real_v11_sample_loads_with_its_six_images(info_file: Path, real_data: Path) -> None:
    (calib,) = read_nuscenes_infos(info_file)
    frame = load_nuscenes_sample(real_data / "nuscenes", calib)
    assert frame.points.shape == (34688, 5)
    assert [image.shape for image in frame.images] == [(900, 1600, 3)] * 6
    assert [camera.name for camera in frame.cameras] == list(NUSCENES_CAMERAS)
    projection = project_points(frame.points[:, :3], frame.cameras, min_depth=1.0)
    # The data README's count (22152, z > 1 m) is per camera; neighbouring cameras overlap.
    assert int(projection.valid.sum()) == 22152
    assert int(projection.valid.any(axis=0).sum()) == 20206


# --- legacy info files and sweeps -----------------------------------------------------------------
@pytest.mark.real_data
def test_legacy_info_gives_the_same_calibration(v11: dict, tmp_path: Path) -> None:
    path = tmp_path / "nuscenes_infos_val.pkl"
    path.write_bytes(pickle.dumps(legacy_info(v11, sweeps=[]), protocol=2))
    (legacy,) = read_nuscenes_infos(path)
    (modern,) = read_nuscenes_infos_from(v11, tmp_path)
    assert legacy.sample_token == TOKEN and legacy.scene == "scene-0061"
    assert legacy.lidar_file == modern.lidar_file
    assert legacy.timestamp == pytest.approx(modern.timestamp, abs=1e-6)
    np.testing.assert_allclose(legacy.lidar2ego, modern.lidar2ego, atol=1e-5)
    np.testing.assert_allclose(legacy.ego2global, modern.ego2global, atol=1e-5)
    for name, camera in legacy.cameras.items():
        assert camera.file == modern.cameras[name].file
        np.testing.assert_allclose(camera.lidar2cam, modern.cameras[name].lidar2cam, atol=1e-6)


def read_nuscenes_infos_from(content: dict, folder: Path) -> list:
    path = folder / "v11.pkl"
    path.write_bytes(pickle.dumps(content))
    return read_nuscenes_infos(path)


@pytest.mark.real_data
def test_sweeps_are_moved_into_the_key_frame(v11: dict, real_data: Path, tmp_path: Path) -> None:
    """A sweep recorded 2 m behind and 5 degrees off the key pose lands where the ego motion
    says: its points are the key cloud moved by exactly that motion (close returns dropped)."""
    root = tmp_path / "nuscenes"
    (root / "samples").mkdir(parents=True)
    shutil.copytree(real_data / "nuscenes/samples/LIDAR_TOP", root / "samples/LIDAR_TOP")
    (root / "sweeps/LIDAR_TOP").mkdir(parents=True)
    shutil.copy(real_data / f"nuscenes/samples/LIDAR_TOP/{LIDAR}", root / "sweeps/LIDAR_TOP/a.bin")
    sample = v11["data_list"][0]
    key_pose = np.asarray(sample["ego2global"])
    lidar2ego = np.asarray(sample["lidar_points"]["lidar2ego"])
    motion = yaw_shift(5.0, (-2.0, 0.3, 0.0))  # key ego <- sweep ego
    sweep_pose = key_pose @ motion
    sweep = {
        "data_path": "/somewhere/else/data/nuscenes/sweeps/LIDAR_TOP/a.bin",
        "sensor2ego_rotation": wxyz_from_rotation(lidar2ego[:3, :3]).tolist(),
        "sensor2ego_translation": lidar2ego[:3, 3].tolist(),
        "ego2global_rotation": wxyz_from_rotation(sweep_pose[:3, :3]).tolist(),
        "ego2global_translation": sweep_pose[:3, 3].tolist(),
        "timestamp": round(sample["timestamp"] * 1e6) - 50_000,
    }
    path = tmp_path / "infos.pkl"
    path.write_bytes(pickle.dumps(legacy_info(v11, sweeps=[sweep])))
    (calib,) = read_nuscenes_infos(path)
    assert calib.sweeps[0].file == "sweeps/LIDAR_TOP/a.bin"
    assert calib.sweeps[0].timestamp == pytest.approx(calib.timestamp - 0.05, abs=1e-6)
    key = load_nuscenes_sample(root, calib, load_images=False)
    both = load_nuscenes_sample(root, calib, load_images=False, sweeps=10)  # only 1 listed
    raw = np.fromfile(root / "sweeps/LIDAR_TOP/a.bin", dtype=np.float32).reshape(-1, 5)
    far = np.linalg.norm(raw[:, :3], axis=1) >= 1.0
    assert len(key.points) == 34688 and len(both.points) == 34688 + int(far.sum())
    np.testing.assert_array_equal(both.points[: len(key.points)], key.points)
    expected = transform_points(motion, key.points[far, :3].astype(np.float64))
    np.testing.assert_allclose(both.points[len(key.points) :, :3], expected, atol=2e-3)
    np.testing.assert_array_equal(both.points[len(key.points) :, 3:], key.points[far, 3:])


def test_quaternion_matrix_round_trip() -> None:
    for yaw, axis in ((30.0, (0, 0, 1)), (-120.0, (1, 2, 3)), (179.0, (0, 1, 0))):
        axis_n = np.asarray(axis, float) / np.linalg.norm(axis)
        half = np.deg2rad(yaw) / 2
        quaternion = [np.cos(half), *(np.sin(half) * axis_n)]
        rotation = rotation_from_wxyz(quaternion)
        np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)
        np.testing.assert_allclose(rotation @ axis_n, axis_n, atol=1e-12)  # the axis is kept
        np.testing.assert_allclose(
            rotation_from_wxyz(wxyz_from_rotation(rotation)), rotation, atol=1e-9
        )
    # 90 degrees about z maps x to y.
    np.testing.assert_allclose(
        rotation_from_wxyz([np.sqrt(0.5), 0, 0, np.sqrt(0.5)]) @ [1, 0, 0], [0, 1, 0], atol=1e-12
    )


@pytest.mark.parametrize(
    ("stored", "folder", "expected"),
    [
        ("x.jpg", "samples/CAM_FRONT", "samples/CAM_FRONT/x.jpg"),
        ("./data/nuscenes/samples/CAM_BACK/y.jpg", "samples/CAM_FRONT", "samples/CAM_BACK/y.jpg"),
        ("/abs/nuscenes/sweeps/LIDAR_TOP/z.bin", "sweeps/LIDAR_TOP", "sweeps/LIDAR_TOP/z.bin"),
        ("C:\\nuscenes\\samples\\LIDAR_TOP\\w.bin", "x", "samples/LIDAR_TOP/w.bin"),
    ],
)
def test_data_relative_path(stored: str, folder: str, expected: str) -> None:
    assert data_relative_path(stored, folder) == expected


# --- bad input ------------------------------------------------------------------------------------
def test_info_pickle_that_builds_objects_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"infos": collections.OrderedDict(a=1)}))
    with pytest.raises(DataFormatError, match=r"evil\.pkl.*collections\.OrderedDict"):
        read_nuscenes_infos(path)


def test_info_file_errors_name_file_and_field(tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.pkl"
    truncated.write_bytes(pickle.dumps({"data_list": [{"token": "t"}]})[:-5])
    with pytest.raises(DataFormatError, match=r"truncated\.pkl: not a readable pickle"):
        read_nuscenes_infos(truncated)
    layout = tmp_path / "layout.pkl"
    layout.write_bytes(pickle.dumps({"samples": []}))
    with pytest.raises(DataFormatError, match=r"layout\.pkl: top level is \['samples'\]"):
        read_nuscenes_infos(layout)
    sample = {
        "token": "t",
        "timestamp": 1.0,
        "ego2global": np.eye(4).tolist(),
        "lidar_points": {"lidar_path": "a.bin", "lidar2ego": np.eye(3).tolist()},
        "images": {},
    }
    field = tmp_path / "field.pkl"
    field.write_bytes(pickle.dumps({"data_list": [sample]}))
    with pytest.raises(
        DataFormatError, match=r"data_list\[0\]\.lidar_points\.lidar2ego' has shape"
    ):
        read_nuscenes_infos(field)
    del sample["lidar_points"]
    field.write_bytes(pickle.dumps({"data_list": [sample]}))
    with pytest.raises(DataFormatError, match=r"missing field 'data_list\[0\]\.lidar_points'"):
        read_nuscenes_infos(field)
    with pytest.raises(DataFormatError, match=r"missing\.pkl"):
        read_nuscenes_infos(tmp_path / "missing.pkl")
