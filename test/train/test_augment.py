"""Augmentations: the y flip keeps points, grids, images and cameras consistent; student-only
views drop points and jitter images without touching labels."""

from __future__ import annotations

import numpy as np
import pytest

from occle_core.frame import Frame
from occle_core.geometry.camera import CameraModel, project_points
from occle_core.geometry.grid import GridSpec
from occle_core.geometry.mirror import mirror_camera_y, y_symmetric
from occle_core.train.augment import AugmentConfig, flip_sample_y, student_view
from occle_core.train.dataset import TrainingSample

GRID = GridSpec((0.0, -4.0, -1.0), (1.0, 1.0, 1.0), (8, 8, 2))


def camera() -> CameraModel:
    # A KITTI-like camera: looks along +x, off-centre principal point, offset from the LiDAR.
    extrinsic = np.array(
        [[0.0, -1.0, 0.0, 0.06], [0.0, 0.0, -1.0, -0.08], [1.0, 0.0, 0.0, -0.27], [0, 0, 0, 1]]
    )
    k = np.array([[50.0, 0, 37.0], [0, 50.0, 20.0], [0, 0, 1]])
    return CameraModel("cam", k, extrinsic, 80, 40)


def sample() -> TrainingSample:
    rng = np.random.default_rng(0)
    points = np.concatenate(
        [rng.uniform((1, -3.9, -0.9), (7.9, 3.9, 0.9), (200, 3)), rng.uniform(0, 1, (200, 1))],
        axis=1,
    ).astype(np.float32)
    image = rng.integers(0, 256, (40, 80, 3), dtype=np.uint8)
    labels = rng.integers(0, 20, GRID.shape).astype(np.uint8)
    return TrainingSample(
        key="00/000000",
        frame=Frame(points, [image], [camera()]),
        labels=labels,
        truth=labels.copy(),
        image_pseudo=[rng.integers(0, 20, (40, 80)).astype(np.uint8)],
        point_pseudo=rng.integers(0, 20, 200).astype(np.uint8),
        evidence=rng.integers(-1, 2, (4, 4, 1)).astype(np.int8),
    )


def test_flipped_camera_projects_mirrored_points_onto_the_mirrored_image():
    original = sample()
    flipped = flip_sample_y(original, GRID)
    before = project_points(original.frame.xyz, original.frame.cameras)
    after = project_points(flipped.frame.xyz, flipped.frame.cameras)
    np.testing.assert_array_equal(before.valid, after.valid)
    valid = before.valid[0]
    np.testing.assert_allclose(after.uv[0][valid, 0], 80 - before.uv[0][valid, 0], atol=1e-4)
    np.testing.assert_allclose(after.uv[0][valid, 1], before.uv[0][valid, 1], atol=1e-4)
    np.testing.assert_allclose(after.depth[0][valid], before.depth[0][valid], atol=1e-5)
    # A projected point reads the same pixel of the flipped image as of the original.
    px_before, px_after = before.pixels()[0][valid], after.pixels()[0][valid]
    np.testing.assert_array_equal(
        original.frame.images[0][px_before[:, 1], px_before[:, 0]],
        flipped.frame.images[0][px_after[:, 1], px_after[:, 0]],
    )


def test_flip_mirrors_every_grid_and_keeps_labels_with_their_voxels():
    original = sample()
    flipped = flip_sample_y(original, GRID)
    assert flipped.labels is not None and original.labels is not None
    i, j, k = GRID.points_to_indices(original.frame.xyz)[0][0]
    i2, j2, k2 = GRID.points_to_indices(flipped.frame.xyz)[0][0]
    assert (i2, j2, k2) == (i, GRID.shape[1] - 1 - j, k)
    assert flipped.labels[i2, j2, k2] == original.labels[i, j, k]
    np.testing.assert_array_equal(flipped.evidence, original.evidence[:, ::-1])
    np.testing.assert_array_equal(flipped.image_pseudo[0], original.image_pseudo[0][:, ::-1])
    np.testing.assert_array_equal(flipped.point_pseudo, original.point_pseudo)
    # Flipping twice gives the sample back.
    twice = flip_sample_y(flipped, GRID)
    np.testing.assert_array_equal(twice.frame.points, original.frame.points)
    np.testing.assert_allclose(
        mirror_camera_y(mirror_camera_y(camera())).cam_from_ref, camera().cam_from_ref
    )


def test_flip_needs_a_symmetric_grid():
    assert y_symmetric(GRID)
    shifted = GridSpec((0.0, -3.0, -1.0), (1.0, 1.0, 1.0), (8, 8, 2))
    assert not y_symmetric(shifted)
    with pytest.raises(ValueError, match="symmetric"):
        flip_sample_y(sample(), shifted)


def test_student_view_drops_points_and_jitters_images_only():
    original = sample()
    config = AugmentConfig(point_dropout=0.25, color_jitter=0.3)
    student = student_view(original, config, np.random.default_rng(1))
    assert 120 < len(student.frame.points) < 180
    assert len(student.point_pseudo) == len(student.frame.points)
    assert not np.array_equal(student.frame.images[0], original.frame.images[0])
    assert student.labels is original.labels and student.evidence is original.evidence
    with pytest.raises(ValueError, match="point_dropout"):
        AugmentConfig(point_dropout=1.0)
