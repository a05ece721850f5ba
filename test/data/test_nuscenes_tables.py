"""The nuScenes tables (v1.0-*/*.json) read into the same samples as the info files: the synthetic
surround scenes are written both ways and must agree; the tables' own rules (ego motion between
LiDAR and camera times, sweeps through `prev`, the scene's sample chain) are checked on edits."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from occle_core.cli.main import main as occle
from occle_core.data.nuscenes.infos import read_nuscenes_infos
from occle_core.data.nuscenes.sample import NUSCENES_CAMERAS
from occle_core.data.nuscenes.scene import open_occ3d_scenes
from occle_core.data.nuscenes.tables import read_nuscenes_tables
from occle_core.data.synthetic.surround import INFO_FILE
from occle_core.data.synthetic.surround_tables import TABLES_FOLDER
from occle_core.errors import DataFormatError
from occle_core.geometry.rotations import wxyz_from_rotation
from occle_core.geometry.transforms import invert_rigid

SCENES = ["scene-0005", "scene-0006"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("surround")
    args = ["synth", "--layout", "occ3d", "--out", str(root), "--sequences", "5", "6"]
    assert occle([*args, "--frames", "11", "--seed", "9", "--no-preview"]) == 0
    return root


@pytest.fixture
def tables(dataset: Path, tmp_path: Path) -> Path:
    """A copy of the tables to edit."""
    return Path(shutil.copytree(dataset / TABLES_FOLDER, tmp_path / TABLES_FOLDER))


def edit(folder: Path, table: str, change) -> None:  # type: ignore[no-untyped-def]
    path = folder / f"{table}.json"
    rows = json.loads(path.read_text())
    change(rows)
    path.write_text(json.dumps(rows))


def test_tables_and_info_file_describe_the_same_samples(dataset: Path) -> None:
    from_infos = read_nuscenes_infos(dataset / INFO_FILE)
    from_tables = read_nuscenes_tables(dataset / TABLES_FOLDER)
    assert [s.sample_token for s in from_tables] == [s.sample_token for s in from_infos]
    assert [s.scene for s in from_tables] == [SCENES[0]] * 3 + [SCENES[1]] * 3
    for info, table in zip(from_infos, from_tables, strict=True):
        assert table.lidar_file == info.lidar_file
        assert table.timestamp == pytest.approx(info.timestamp, abs=1e-6)
        np.testing.assert_allclose(table.lidar2ego, info.lidar2ego, atol=1e-12)
        np.testing.assert_allclose(table.ego2global, info.ego2global, atol=1e-9)
        assert sorted(table.cameras) == sorted(NUSCENES_CAMERAS)
        for name, camera in info.cameras.items():
            assert table.cameras[name].file == f"samples/{name}/{Path(camera.file).name}"
            np.testing.assert_array_equal(table.cameras[name].intrinsics, camera.intrinsics)
            np.testing.assert_allclose(table.cameras[name].lidar2cam, camera.lidar2cam, atol=1e-9)
        # Up to 10 sweeps through `prev`, across key frames, newest first, as mmdetection3d.
        assert [s.file for s in table.sweeps] == [s.file for s in info.sweeps]
        for a, b in zip(table.sweeps, info.sweeps, strict=True):
            np.testing.assert_allclose(a.ego2global, b.ego2global, atol=1e-9)
            assert a.timestamp == pytest.approx(b.timestamp, abs=1e-6)


def test_scenes_open_from_the_tables_folder(dataset: Path) -> None:
    (scene,) = open_occ3d_scenes(dataset, TABLES_FOLDER, [SCENES[1]], sweeps=4)
    (reference,) = open_occ3d_scenes(dataset, INFO_FILE, [SCENES[1]], sweeps=4)
    assert scene.voxel_ids == [0, 1, 2]
    frame, expected = scene.frame(2, load_image=False), reference.frame(2, load_image=False)
    assert len(frame.points) == len(expected.points) > 0
    np.testing.assert_allclose(frame.points, expected.points, atol=1e-4)


def test_camera_calibration_carries_the_ego_motion_to_the_camera_time(tables: Path) -> None:
    """A camera that fires when the vehicle is 2 m further along sees the LiDAR 2 m behind."""
    before = read_nuscenes_tables(tables)[0]
    data = json.loads((tables / "sample_data.json").read_text())
    front = next(
        r for r in data if r["filename"] == before.cameras["CAM_FRONT"].file and r["is_key_frame"]
    )
    poses = {r["token"]: r for r in json.loads((tables / "ego_pose.json").read_text())}
    lidar_pose = poses[front["ego_pose_token"]]
    ahead = np.eye(4)
    ahead[:3, :3] = before.ego2global[:3, :3]
    ahead[:3, 3] = before.ego2global[:3, 3] + before.ego2global[:3, :3] @ [2.0, 0, 0]

    def add_pose(rows: list) -> None:  # type: ignore[type-arg]
        rows.append(
            {
                "token": "moved",
                "timestamp": lidar_pose["timestamp"],
                "translation": ahead[:3, 3].tolist(),
                "rotation": wxyz_from_rotation(ahead[:3, :3]).tolist(),
            }
        )

    def move_front(rows: list) -> None:  # type: ignore[type-arg]
        next(r for r in rows if r["token"] == front["token"])["ego_pose_token"] = "moved"

    edit(tables, "ego_pose", add_pose)
    edit(tables, "sample_data", move_front)
    after = read_nuscenes_tables(tables)[0]
    shift = np.eye(4)
    shift[0, 3] = -2.0  # the key frame's ego origin, seen from the ego at the camera time
    lidar2ego = before.lidar2ego
    expected = before.cameras["CAM_FRONT"].lidar2cam @ invert_rigid(lidar2ego) @ shift @ lidar2ego
    np.testing.assert_allclose(after.cameras["CAM_FRONT"].lidar2cam, expected, atol=1e-9)
    np.testing.assert_allclose(
        after.cameras["CAM_BACK"].lidar2cam, before.cameras["CAM_BACK"].lidar2cam, atol=1e-12
    )


def test_bad_tables_are_named(tables: Path) -> None:
    (tables / "ego_pose.json").unlink()
    with pytest.raises(DataFormatError, match=r"ego_pose\.json.*missing table"):
        read_nuscenes_tables(tables)


def test_sample_without_a_camera_and_bad_rotation_are_named(tables: Path) -> None:
    first = read_nuscenes_tables(tables)[0]
    back = Path(first.cameras["CAM_BACK"].file).name

    def drop_back(rows: list) -> None:  # type: ignore[type-arg]
        rows[:] = [r for r in rows if not r["filename"].endswith(back)]

    edit(tables, "sample_data", drop_back)
    with pytest.raises(
        DataFormatError, match=f"sample {first.sample_token} has no key-frame CAM_BACK"
    ):
        read_nuscenes_tables(tables)

    def zero_rotation(rows: list) -> None:  # type: ignore[type-arg]
        rows[0]["rotation"] = [0, 0, 0, 0]

    edit(tables, "sample_data", lambda rows: None)
    edit(tables, "calibrated_sensor", zero_rotation)
    with pytest.raises(DataFormatError, match=r"calibrated_sensor\.json.*non-zero"):
        read_nuscenes_tables(tables, cameras=("CAM_FRONT",))
