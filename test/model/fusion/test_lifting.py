"""Voxel <-> pixel lifting for 1 and 6 cameras, and frontal-plane pooling."""

import numpy as np
import torch

from occle_core.geometry.camera import CameraModel
from occle_core.model.fusion.lifting import FrontalPlanePool, ImageLifter, VoxelPixelMap


def _camera(yaw_deg, name, width=8, height=6):
    yaw = np.deg2rad(yaw_deg)
    # Camera looking along the reference direction (cos yaw, sin yaw, 0).
    forward = np.array([np.cos(yaw), np.sin(yaw), 0.0])
    right = np.array([np.sin(yaw), -np.cos(yaw), 0.0])
    down = np.array([0.0, 0.0, -1.0])
    extrinsic = np.eye(4)
    extrinsic[:3, :3] = np.stack([right, down, forward])
    k = np.array([[4.0, 0, width / 2], [0, 4.0, height / 2], [0, 0, 1]])
    return CameraModel(name, k, extrinsic, width, height)


def test_lifting_samples_the_pixel_under_each_voxel():
    camera = _camera(0, "front")
    centers = np.array([[5.0, 0.0, 0.0], [5.0, -5.0, 0.0], [-5.0, 0.0, 0.0]])
    pixel_map = VoxelPixelMap.build(centers, [camera])
    assert pixel_map.valid.tolist() == [[True, False, False]]
    # A feature map whose value is the column index: voxel 0 projects to u = 4 (pixel centre
    # of column 3.5 -> bilinear between columns 3 and 4 gives 3.5).
    columns = torch.arange(8, dtype=torch.float32).expand(6, 8)
    features = columns[None, None, None]  # (B=1, N=1, C=1, 6, 8)
    lifter = ImageLifter(1)
    with torch.no_grad():
        lifter.outside.fill_(-7.0)
    lifted, seen = lifter(features, pixel_map)
    assert seen.tolist() == [True, False, False]
    assert lifted[0, 0, 0].item() == 3.5
    assert lifted[0, 0, 1:].tolist() == [-7.0, -7.0]


def test_six_cameras_average_where_they_overlap():
    cameras = [_camera(yaw, f"cam{yaw}") for yaw in (0, 60, 120, 180, 240, 300)]
    rng = np.random.default_rng(0)
    angles = rng.uniform(-np.pi, np.pi, 200)
    centers = np.stack([10 * np.cos(angles), 10 * np.sin(angles), np.zeros(200)], axis=1)
    pixel_map = VoxelPixelMap.build(centers, cameras)
    assert pixel_map.grid.shape == (6, 200, 2)
    seen_by = pixel_map.valid.sum(dim=0)
    assert seen_by.min() >= 1 and seen_by.max() >= 2  # 90 degree cameras every 60 degrees overlap
    # Each camera's map is constant: the lifted value is the mean of the constants seeing the voxel.
    constants = torch.arange(6, dtype=torch.float32)
    features = constants[None, :, None, None, None].expand(2, 6, 1, 6, 8)
    lifted, _ = ImageLifter(1)(features, pixel_map)
    expected = (pixel_map.valid.float() * constants[:, None]).sum(0) / seen_by
    torch.testing.assert_close(lifted[1, 0], expected)


def test_frontal_pool_is_a_masked_softmax_over_depth():
    pool = FrontalPlanePool(2)
    with torch.no_grad():
        pool.score.weight.zero_()
        pool.score.bias.zero_()  # equal scores: a plain mean over the seen voxels
    features = torch.arange(2 * 3 * 1 * 1, dtype=torch.float32).reshape(1, 2, 3, 1, 1)
    seen = torch.tensor([True, False, True]).reshape(3, 1, 1)
    plane = pool(features, seen)
    assert plane.shape == (1, 2, 1, 1)
    torch.testing.assert_close(plane[0, :, 0, 0], torch.tensor([(0 + 2) / 2, (3 + 5) / 2]))
    nothing = pool(features, torch.zeros(3, 1, 1, dtype=torch.bool))
    assert nothing.abs().sum() == 0


def test_batched_pixel_map_lifts_each_sample_with_its_own_calibration():
    centers = np.array([[5.0, 0.0, 0.0], [0.0, 5.0, 0.0]])
    front, left = _camera(0, "cam"), _camera(90, "cam")
    batched = VoxelPixelMap.stack(
        [VoxelPixelMap.build(centers, [front]), VoxelPixelMap.build(centers, [left])]
    )
    assert batched.grid.shape == (2, 1, 2, 2) and batched.num_voxels == 2
    features = torch.ones(2, 1, 1, 6, 8)
    lifter = ImageLifter(1)
    with torch.no_grad():
        lifter.outside.fill_(-1.0)
    lifted, seen = lifter(features, batched)
    assert seen.tolist() == [[True, False], [False, True]]
    assert lifted[:, 0].tolist() == [[1.0, -1.0], [-1.0, 1.0]]
    pool = FrontalPlanePool(1)
    plane = pool(lifted.reshape(2, 1, 2, 1, 1), seen.reshape(2, 2, 1, 1))
    assert plane.shape == (2, 1, 1, 1)
    torch.testing.assert_close(plane.flatten(), torch.tensor([1.0, 1.0]))
