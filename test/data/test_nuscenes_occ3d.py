"""Occ3D-nuScenes ground truth / predictions and the nuScenes sample loader on the real files."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from occle_core.data.nuscenes.occ3d import (
    OCC3D_CLASS_NAMES,
    OCC3D_COLORS_RGB,
    OCC3D_FREE,
    Occ3DLabels,
    find_occ3d_samples,
    occ3d_prediction_path,
    read_occ3d_labels,
    read_occ3d_prediction,
    write_occ3d_labels,
    write_occ3d_prediction,
)
from occle_core.data.nuscenes.sample import (
    NUSCENES_CAMERAS,
    load_nuscenes_sample,
    read_nuscenes_calibration,
    read_nuscenes_lidar,
)
from occle_core.errors import DataFormatError
from occle_core.geometry.grid import OCC3D_GRID

SCENE = "scene-1077"
TOKEN = "29796060110c4163b07f06eff4af0753"
NUSCENES_TOKEN = "ca9a282c9e77460f8360f564131a8af5"
SHAPE = (200, 200, 16)


@pytest.fixture(scope="module")
def gts(real_data: Path) -> Path:
    return real_data / "occ3d_nuscenes/gts"


@pytest.fixture(scope="module")
def real_labels(gts: Path) -> Occ3DLabels:
    return read_occ3d_labels(gts / SCENE / TOKEN / "labels.npz")


@pytest.fixture(scope="module")
def calib_json(real_data: Path) -> Path:
    return real_data / f"nuscenes/{NUSCENES_TOKEN}_calib.json"


# --- Occ3D ground truth ---------------------------------------------------------------------------
@pytest.mark.real_data
def test_real_occ3d_labels(real_labels: Occ3DLabels) -> None:
    assert real_labels.semantics.shape == SHAPE and real_labels.semantics.dtype == np.uint8
    assert real_labels.mask_lidar.shape == SHAPE and real_labels.mask_lidar.dtype == np.bool_
    assert real_labels.mask_camera.shape == SHAPE and real_labels.mask_camera.dtype == np.bool_
    assert set(np.unique(real_labels.semantics).tolist()) == {0, 1, 3, 4, 6, 11, 13, 14, 15, 16, 17}
    assert int(real_labels.mask_lidar.sum()) == 56601
    assert int(real_labels.mask_camera.sum()) == 43355
    # In this frame every camera-visible voxel is also LiDAR-observed.
    assert not (real_labels.mask_camera & ~real_labels.mask_lidar).any()
    # Grid axes are x, y, z: the driveable surface is entirely in the lowest slice (-1.0..-0.6 m).
    road_k = np.nonzero(real_labels.semantics == 11)[2]
    assert road_k.size == 8433 and (road_k == 0).all()
    assert int((real_labels.semantics == OCC3D_FREE).sum()) == 600908


@pytest.mark.real_data
def test_real_occ3d_as_occupancy_grid(real_labels: Occ3DLabels) -> None:
    grid = real_labels.to_grid(frame_id=TOKEN)
    assert grid.grid == OCC3D_GRID and grid.empty_label == 17 and grid.frame_id == TOKEN
    assert grid.class_names == OCC3D_CLASS_NAMES and grid.num_classes == 18
    histogram = grid.class_histogram()
    assert histogram.sum() == 200 * 200 * 16 and histogram[11] == 8433
    assert grid.occupied_indices().size == 200 * 200 * 16 - 600908


def test_occ3d_constants() -> None:
    assert len(OCC3D_CLASS_NAMES) == 18 and OCC3D_CLASS_NAMES[OCC3D_FREE] == "free"
    assert OCC3D_CLASS_NAMES[11] == "driveable_surface" and OCC3D_CLASS_NAMES[0] == "others"
    assert OCC3D_COLORS_RGB.shape == (18, 3) and OCC3D_COLORS_RGB.dtype == np.uint8
    assert len({tuple(c) for c in OCC3D_COLORS_RGB.tolist()}) == 18


@pytest.mark.real_data
def test_find_real_occ3d_samples(gts: Path) -> None:
    samples = find_occ3d_samples(gts)
    assert len(samples) == 1
    assert samples[0].scene == SCENE and samples[0].token == TOKEN
    assert samples[0].path == gts / SCENE / TOKEN / "labels.npz"


def test_find_occ3d_samples_sorted_and_filtered(tmp_path: Path) -> None:
    labels = Occ3DLabels(np.full(SHAPE, 17, np.uint8), np.zeros(SHAPE, bool), np.zeros(SHAPE, bool))
    for scene, token in (("scene-0002", "bbb"), ("scene-0001", "ccc"), ("scene-0002", "aaa")):
        write_occ3d_labels(tmp_path / scene / token / "labels.npz", labels)
    (tmp_path / "scene-0003/ddd").mkdir(parents=True)  # no labels.npz
    (tmp_path / "scene-0003/ddd/other.npz").write_bytes(b"")
    found = [(s.scene, s.token) for s in find_occ3d_samples(tmp_path)]
    assert found == [("scene-0001", "ccc"), ("scene-0002", "aaa"), ("scene-0002", "bbb")]
    with pytest.raises(DataFormatError, match="not found") as error:
        find_occ3d_samples(tmp_path / "missing")
    assert error.value.source == str(tmp_path / "missing")


@pytest.mark.real_data
def test_occ3d_labels_round_trip(real_labels: Occ3DLabels, tmp_path: Path) -> None:
    path = tmp_path / SCENE / TOKEN / "labels.npz"
    write_occ3d_labels(path, real_labels)
    with np.load(path) as archive:  # the official format: three uint8 arrays
        assert sorted(archive.files) == ["mask_camera", "mask_lidar", "semantics"]
        assert all(archive[key].dtype == np.uint8 for key in archive.files)
        assert int(archive["mask_camera"].sum()) == 43355
    again = read_occ3d_labels(path)
    np.testing.assert_array_equal(again.semantics, real_labels.semantics)
    np.testing.assert_array_equal(again.mask_lidar, real_labels.mask_lidar)
    np.testing.assert_array_equal(again.mask_camera, real_labels.mask_camera)


def test_occ3d_labels_round_trip_random(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    labels = Occ3DLabels(
        rng.integers(0, 18, SHAPE).astype(np.uint8),
        rng.random(SHAPE) < 0.5,
        rng.random(SHAPE) < 0.3,
    )
    write_occ3d_labels(tmp_path / "labels.npz", labels)
    again = read_occ3d_labels(tmp_path / "labels.npz")
    np.testing.assert_array_equal(again.semantics, labels.semantics)
    np.testing.assert_array_equal(again.mask_lidar, labels.mask_lidar)
    np.testing.assert_array_equal(again.mask_camera, labels.mask_camera)
    small = (4, 4, 2)
    tiny = Occ3DLabels(
        np.arange(32, dtype=np.uint8).reshape(small) % 18,
        np.ones(small, bool),
        np.zeros(small, bool),
    )
    write_occ3d_labels(tmp_path / "tiny.npz", tiny)
    np.testing.assert_array_equal(
        read_occ3d_labels(tmp_path / "tiny.npz", small).semantics, tiny.semantics
    )


@pytest.mark.real_data
def test_occ3d_prediction_round_trip(real_labels: Occ3DLabels, tmp_path: Path) -> None:
    path = write_occ3d_prediction(tmp_path, TOKEN, real_labels.semantics)
    assert path == tmp_path / f"{TOKEN}.npz" == occ3d_prediction_path(tmp_path, TOKEN)
    assert zipfile.is_zipfile(path)
    with np.load(path) as archive:
        assert archive.files == ["arr_0"]
        assert archive["arr_0"].dtype == np.uint8 and archive["arr_0"].shape == SHAPE
        np.testing.assert_array_equal(archive["arr_0"], real_labels.semantics)
    back = read_occ3d_prediction(path)
    assert back.dtype == np.uint8
    np.testing.assert_array_equal(back, real_labels.semantics)
    # An OccupancyGrid prediction and a wider integer dtype are written the same way.
    from_grid = write_occ3d_prediction(tmp_path / "grid", TOKEN, real_labels.to_grid())
    np.testing.assert_array_equal(read_occ3d_prediction(from_grid), real_labels.semantics)
    wide = write_occ3d_prediction(tmp_path / "wide", TOKEN, real_labels.semantics.astype(np.int64))
    with np.load(wide) as archive:
        assert archive["arr_0"].dtype == np.uint8


def test_occ3d_prediction_rejects_bad_grids(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match=r"shape \(200, 200, 15\)"):
        write_occ3d_prediction(tmp_path, "tok", np.zeros((200, 200, 15), np.uint8))
    with pytest.raises(DataFormatError, match="class 18"):
        write_occ3d_prediction(tmp_path, "tok", np.full(SHAPE, 18, np.uint8))
    with pytest.raises(DataFormatError, match="class"):
        write_occ3d_prediction(tmp_path, "tok", np.full(SHAPE, -1, np.int16))
    assert not (tmp_path / "tok.npz").exists()


# --- nuScenes sample ------------------------------------------------------------------------------
@pytest.mark.real_data
def test_real_nuscenes_calibration_fields(calib_json: Path) -> None:
    calib = read_nuscenes_calibration(calib_json)
    assert calib.sample_token == NUSCENES_TOKEN
    assert calib.timestamp == 1532402927.647951
    assert calib.lidar_file.endswith("LIDAR_TOP__1532402927647951.pcd.bin")
    assert sorted(calib.cameras) == sorted(NUSCENES_CAMERAS)
    assert calib.lidar2ego.shape == (4, 4) and calib.ego2global.shape == (4, 4)
    assert (
        calib.lidar2ego[0, 3] == 0.9437130093574524 and calib.lidar2ego[2, 3] == 1.8402299880981445
    )
    assert calib.ego2global[:3, 3].tolist() == [411.3039245605469, 1180.890380859375, 0.0]
    front = calib.cameras["CAM_FRONT"]
    assert front.file.startswith("samples/CAM_FRONT/")
    assert front.intrinsics.shape == (3, 3) and front.intrinsics[0, 0] == 1266.417203046554
    assert front.intrinsics[1, 2] == 491.50706579294757
    assert front.lidar2cam.shape == (4, 4) and front.lidar2cam[0, 3] == 0.01687305048108101
    assert front.timestamp == 1532402927.61246
    for camera in calib.cameras.values():
        np.testing.assert_array_equal(camera.lidar2cam[3], [0, 0, 0, 1])
        rotation = camera.lidar2cam[:3, :3]
        np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-6)
        assert abs(camera.timestamp - calib.timestamp) < 0.05  # within one camera sweep


@pytest.mark.real_data
def test_real_nuscenes_sample(real_data: Path, calib_json: Path) -> None:
    root = real_data / "nuscenes"
    calib = json.loads(calib_json.read_text())
    frame = load_nuscenes_sample(root, calib_json)
    assert frame.points.shape == (34688, 5) and frame.points.dtype == np.float32
    assert frame.camera_names() == list(NUSCENES_CAMERAS)
    assert len(frame.images) == 6
    for image in frame.images:
        assert image.shape == (900, 1600, 3) and image.dtype == np.uint8
        assert image.std() > 10  # a real photograph, not a blank
    assert all((c.width, c.height) == (1600, 900) for c in frame.cameras)
    assert frame.frame_id == NUSCENES_TOKEN and frame.time == 1532402927.647951
    np.testing.assert_array_equal(frame.pose, np.asarray(calib["ego2global"]))

    # Points moved to the ego frame: check a few by hand against lidar2ego.
    raw = read_nuscenes_lidar(root / calib["lidar"]["file"])
    assert raw.shape == (34688, 5)
    lidar2ego = calib["lidar"]["lidar2ego"]
    for index in (0, 1, 17000, 34687):
        x, y, z = (float(v) for v in raw[index, :3])
        expected = [row[0] * x + row[1] * y + row[2] * z + row[3] for row in lidar2ego[:3]]
        np.testing.assert_allclose(frame.points[index, :3], expected, atol=1e-4)
    np.testing.assert_array_equal(frame.points[:, 3:], raw[:, 3:])  # intensity and ring kept
    # The LiDAR is mounted 1.84 m above the ego origin: the road is ~1.8 m lower in the LiDAR
    # frame than in the ego frame.
    assert abs(np.median(frame.points[:, 2] - raw[:, 2]) - 1.84) < 0.05

    # Extrinsics follow: camera poses in the ego frame match cam2ego up to ego-motion compensation.
    for camera in frame.cameras:
        cam2ego = np.asarray(calib["cameras"][camera.name]["cam2ego"])
        np.testing.assert_allclose(camera.ref_from_cam[:3, :3], cam2ego[:3, :3], atol=2e-3)
        assert np.abs(camera.ref_from_cam[:3, 3] - cam2ego[:3, 3]).max() < 0.5
    front = frame.cameras[0]
    np.testing.assert_allclose(front.ref_from_cam[:3, 2], [1, 0, 0], atol=0.01)  # looks along +x


@pytest.mark.real_data
def test_nuscenes_sample_camera_subset_without_images(real_data: Path, calib_json: Path) -> None:
    calib = read_nuscenes_calibration(calib_json)
    frame = load_nuscenes_sample(
        real_data / "nuscenes", calib, cameras=("CAM_BACK",), load_images=False
    )
    assert frame.images == [] and frame.camera_names() == ["CAM_BACK"]
    assert (frame.cameras[0].width, frame.cameras[0].height) == (1600, 900)
    np.testing.assert_allclose(frame.cameras[0].ref_from_cam[:3, 2], [-1, 0, 0], atol=0.02)
    with pytest.raises(DataFormatError, match="camera CAM_SIDE not in calibration") as error:
        load_nuscenes_sample(
            real_data / "nuscenes", calib_json, cameras=("CAM_SIDE",), load_images=False
        )
    assert str(calib_json) in str(error.value)
