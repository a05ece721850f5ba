"""Pinhole cameras: KITTI projection matrices and multi-camera projection on real calibrations."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from occle_core.data.nuscenes.sample import load_nuscenes_sample, read_nuscenes_lidar
from occle_core.data.semantickitti.calib import read_calib
from occle_core.data.semantickitti.files import read_velodyne
from occle_core.geometry.camera import CameraModel, PixelProjection, project_points
from occle_core.io.images import read_image

NUSCENES_CALIB = "nuscenes/ca9a282c9e77460f8360f564131a8af5_calib.json"

# Optical frame (x right, y down, z forward) from a LiDAR-style frame (x forward, y left, z up).
OPTICAL_FROM_LIDAR = np.array(
    [[0.0, -1.0, 0.0, 0.0], [0.0, 0.0, -1.0, 0.0], [1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]]
)
K_SIMPLE = np.array([[100.0, 0.0, 50.0], [0.0, 100.0, 40.0], [0.0, 0.0, 1.0]])


def relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    return float(np.abs(actual - expected).max() / np.abs(expected).max())


# --- hand-built camera ----------------------------------------------------------------------------
@pytest.fixture
def simple_camera() -> CameraModel:
    return CameraModel("front", K_SIMPLE, OPTICAL_FROM_LIDAR, width=100, height=80)


def test_hand_built_projection_exact_pixels(simple_camera: CameraModel) -> None:
    points = np.array(
        [
            [10.0, 0.0, 0.0],  # on the optical axis -> principal point (50, 40)
            [10.0, -1.0, 0.5],  # 1 m right, 0.5 m up at 10 m -> (60, 35)
            [-5.0, 0.0, 0.0],  # behind the camera
            [10.0, 6.0, 0.0],  # 6 m left at 10 m -> u = -10, outside
            [10.0, 5.0, 0.0],  # u = 0 exactly: first column, inside
            [10.0, -5.0, 0.0],  # u = 100 = width: outside (pixels are [c, c+1))
            [10.0, 0.0, -3.9],  # v = 79: last row, inside
            [10.0, 0.0, -4.0],  # v = 80 = height: outside
            [0.1, 0.0, 0.0],  # depth == min_depth: not strictly in front, invalid
            [20.0, 2.5, 1.0],  # (50 - 12.5, 40 - 5) = (37.5, 35)
        ]
    )
    proj = project_points(points, [simple_camera])
    assert isinstance(proj, PixelProjection)
    assert proj.uv.shape == (1, 10, 2) and proj.uv.dtype == np.float32
    assert proj.depth.shape == (1, 10) and proj.valid.shape == (1, 10)
    valid = proj.valid[0]
    assert valid.tolist() == [True, True, False, False, True, False, True, False, False, True]
    np.testing.assert_allclose(
        proj.uv[0, [0, 1, 4, 6, 9]], [[50, 40], [60, 35], [0, 40], [50, 79], [37.5, 35]], atol=1e-4
    )
    np.testing.assert_allclose(proj.depth[0], points[:, 0], atol=1e-6)
    np.testing.assert_array_equal(proj.pixels()[0, [0, 1, 9]], [[50, 40], [60, 35], [37, 35]])


def test_two_cameras_and_min_depth(simple_camera: CameraModel) -> None:
    # A second camera looking backwards (rotated 180 degrees about z).
    back_from_front = np.diag([-1.0, -1.0, 1.0, 1.0])
    rear = CameraModel("rear", K_SIMPLE, OPTICAL_FROM_LIDAR @ back_from_front, 100, 80)
    points = np.array([[10.0, 0.0, 0.0], [-10.0, 0.0, 0.0], [0.5, 0.0, 0.0]])
    proj = project_points(points, [simple_camera, rear])
    assert proj.uv.shape == (2, 3, 2)
    assert proj.valid.tolist() == [[True, False, True], [False, True, False]]
    np.testing.assert_allclose(proj.depth, [[10, -10, 0.5], [-10, 10, -0.5]], atol=1e-6)
    np.testing.assert_allclose(proj.uv[1, 1], [50, 40], atol=1e-5)
    # Raising min_depth drops the point 0.5 m in front.
    assert project_points(points, [simple_camera], min_depth=1.0).valid.tolist() == [
        [True, False, False]
    ]
    assert np.isfinite(proj.uv).all()  # nothing divides by a depth behind the camera


def test_projection_property_and_inverse_pose(simple_camera: CameraModel) -> None:
    np.testing.assert_array_equal(simple_camera.projection, K_SIMPLE @ OPTICAL_FROM_LIDAR[:3])
    np.testing.assert_allclose(
        simple_camera.ref_from_cam @ simple_camera.cam_from_ref, np.eye(4), atol=1e-12
    )
    # The optical axis (camera +z) points along the reference +x.
    np.testing.assert_allclose(simple_camera.ref_from_cam[:3, 2], [1, 0, 0], atol=1e-12)
    moved = simple_camera.with_reference(np.eye(4))
    assert moved.name == "front" and (moved.width, moved.height) == (100, 80)
    np.testing.assert_array_equal(moved.intrinsics, K_SIMPLE)
    np.testing.assert_array_equal(moved.cam_from_ref, np.eye(4))


def test_camera_validation() -> None:
    with pytest.raises(ValueError, match="intrinsics"):
        CameraModel("c", np.eye(4), np.eye(4), 10, 10)
    with pytest.raises(ValueError, match="cam_from_ref"):
        CameraModel("c", np.eye(3), np.eye(3), 10, 10)
    with pytest.raises(ValueError, match="empty"):
        CameraModel("c", np.eye(3), np.eye(4), 0, 10)
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        project_points(np.zeros((5, 4)), [CameraModel("c", np.eye(3), np.eye(4), 10, 10)])


def test_from_projection_matrix_splits_baseline() -> None:
    # P = K [I | t] with t = (0.5, -0.25, 0): the split must give back K and t.
    t = np.array([0.5, -0.25, 0.0])
    p = np.hstack([K_SIMPLE, (K_SIMPLE @ t)[:, None]])
    camera = CameraModel.from_projection_matrix("c", p, OPTICAL_FROM_LIDAR, 100, 80)
    np.testing.assert_array_equal(camera.intrinsics, K_SIMPLE)
    np.testing.assert_allclose(camera.cam_from_ref[:3, 3], t, atol=1e-15)
    np.testing.assert_array_equal(camera.cam_from_ref[:3, :3], OPTICAL_FROM_LIDAR[:3, :3])


# --- real KITTI odometry calibration --------------------------------------------------------------
@pytest.mark.real_data
def test_from_projection_matrix_reproduces_P_Tr_on_kitti_odometry(real_data: Path) -> None:
    calib = read_calib(real_data / "semantickitti/sequences/00/calib.txt")
    tr = calib.velo_to_cam0
    for key, image in (("P0", "image_0"), ("P1", "image_1"), ("P2", "image_2"), ("P3", "image_3")):
        p = calib.projections[key]
        camera = CameraModel.from_projection_matrix(image, p, tr, 1241, 376)
        assert relative_error(camera.projection, p @ tr) < 1e-12
        np.testing.assert_array_equal(camera.intrinsics, p[:, :3])
        # Extrinsic stays rigid: the rotation is Tr's rotation.
        np.testing.assert_array_equal(camera.cam_from_ref[:3, :3], tr[:3, :3])
        assert relative_error(calib.camera(image).projection, calib.lidar_to_image(image)) < 1e-12
    # The stereo baseline folded into P1 comes out as a translation of -0.537 m along camera x.
    cam1 = calib.camera("image_1")
    baseline = cam1.cam_from_ref[:3, 3] - tr[:3, 3]
    np.testing.assert_allclose(baseline, [-386.1448 / 718.856, 0.0, 0.0], atol=1e-12)
    assert calib.camera("image_2").width == 1241 and calib.camera("image_2").height == 376


# --- real KITTI object frame 000008 ---------------------------------------------------------------
@pytest.fixture(scope="module")
def kitti_object(real_data: Path) -> dict:
    return json.loads((real_data / "kitti_object/000008_calib.json").read_text())


def kitti_object_camera(calib: dict) -> CameraModel:
    p2 = np.asarray(calib["P2_cam2img"])[:3]
    rect_from_ref = np.asarray(calib["R0_rect"]) @ np.asarray(calib["Tr_velo_to_cam"])
    height, width = calib["image_hw"]
    return CameraModel.from_projection_matrix("image_2", p2, rect_from_ref, width, height)


@pytest.mark.real_data
def test_from_projection_matrix_matches_kitti_object_lidar2img(kitti_object: dict) -> None:
    camera = kitti_object_camera(kitti_object)
    lidar2img = np.asarray(kitti_object["lidar2img"])[:3]
    assert relative_error(camera.projection, lidar2img) < 1e-6
    rect_from_ref = np.asarray(kitti_object["R0_rect"]) @ np.asarray(kitti_object["Tr_velo_to_cam"])
    assert relative_error(rect_from_ref, np.asarray(kitti_object["lidar2cam"])) < 1e-6
    assert (camera.width, camera.height) == (1242, 375)


@pytest.mark.real_data
def test_all_reduced_kitti_points_project_into_the_image(
    real_data: Path, kitti_object: dict
) -> None:
    points = read_velodyne(real_data / "kitti_object/training/velodyne_reduced/000008.bin")
    assert points.shape == (17238, 4)
    camera = kitti_object_camera(kitti_object)
    proj = project_points(points[:, :3], [camera])
    assert int(proj.valid.sum()) == 17238
    pixels = proj.pixels()[0]
    assert pixels[:, 0].min() >= 0 and pixels[:, 0].max() < 1242
    assert pixels[:, 1].min() >= 0 and pixels[:, 1].max() < 375
    assert proj.depth.min() > 0.1
    # Depth along the optical axis is close to the forward LiDAR coordinate.
    assert np.abs(proj.depth[0] - points[:, 0]).max() < 0.4
    image = read_image(real_data / "kitti_object/training/image_2/000008.png")
    assert image.shape == (375, 1242, 3)


# --- real nuScenes sample, six cameras ------------------------------------------------------------
@pytest.fixture(scope="module")
def nuscenes_frame(real_data: Path):
    return load_nuscenes_sample(
        real_data / "nuscenes", real_data / NUSCENES_CALIB, load_images=False
    )


@pytest.mark.real_data
def test_nuscenes_points_seen_by_the_six_cameras(nuscenes_frame) -> None:
    assert nuscenes_frame.num_cameras == 6
    proj = project_points(nuscenes_frame.xyz, nuscenes_frame.cameras, min_depth=1.0)
    assert proj.valid.shape == (6, 34688)
    assert int(proj.valid.sum()) == 22152  # README's sanity count
    assert int(proj.valid.any(axis=0).sum()) == 20206  # distinct points (overlapping views)
    # Every valid projection is strictly more than 1 m in front and inside the 1600x900 image.
    assert (proj.depth[proj.valid] > 1.0).all()
    pixels = proj.pixels()
    assert (pixels[..., 0][proj.valid] < 1600).all() and (pixels[..., 1][proj.valid] < 900).all()
    assert (proj.uv[proj.valid] >= 0).all()


@pytest.mark.real_data
def test_nuscenes_points_behind_a_camera_are_invalid(nuscenes_frame) -> None:
    proj = project_points(nuscenes_frame.xyz, nuscenes_frame.cameras, min_depth=1.0)
    behind = proj.depth <= 1.0
    assert behind.sum(axis=1).min() > 10000  # each camera has most of the sweep behind it
    assert not proj.valid[behind].any()
    # The front camera sees nothing of the ego-frame half space x < 0 (behind the car).
    front = nuscenes_frame.camera_names().index("CAM_FRONT")
    assert not proj.valid[front][nuscenes_frame.xyz[:, 0] < 0].any()
    back = nuscenes_frame.camera_names().index("CAM_BACK")
    assert not proj.valid[back][nuscenes_frame.xyz[:, 0] > 0].any()


@pytest.mark.real_data
def test_nuscenes_ego_frame_projection_equals_lidar_frame_projection(
    real_data: Path, nuscenes_frame
) -> None:
    calib = json.loads((real_data / NUSCENES_CALIB).read_text())
    raw = read_nuscenes_lidar(real_data / "nuscenes" / calib["lidar"]["file"])
    lidar_cameras = [
        CameraModel(
            name,
            np.asarray(calib["cameras"][name]["cam2img"]),
            np.asarray(calib["cameras"][name]["lidar2cam"]),
            1600,
            900,
        )
        for name in nuscenes_frame.camera_names()
    ]
    in_lidar = project_points(raw[:, :3], lidar_cameras, min_depth=1.0)
    in_ego = project_points(nuscenes_frame.xyz, nuscenes_frame.cameras, min_depth=1.0)
    both = in_lidar.valid & in_ego.valid
    # The ego-frame points are rounded to float32, which moves pixels by far less than 0.01 px.
    np.testing.assert_array_equal(in_ego.valid, in_lidar.valid)
    assert np.abs(in_lidar.uv[both] - in_ego.uv[both]).max() < 0.01
