"""The y-mirror of a frame (`occle_core.geometry.mirror`): points, images, cameras and pose
mirrored together, and mirroring twice gives the frame back. The projection of mirrored points
onto mirrored images is checked in test/train/test_augment.py, which mirrors samples with it."""

from __future__ import annotations

import numpy as np

from occle_core.frame import Frame
from occle_core.geometry.camera import CameraModel
from occle_core.geometry.grid import GridSpec
from occle_core.geometry.mirror import MIRROR_Y, mirror_frame_y, y_symmetric


def _frame() -> Frame:
    rng = np.random.default_rng(0)
    points = rng.uniform(-5, 5, (50, 4)).astype(np.float32)
    extrinsic = np.array(
        [[0.0, -1.0, 0.0, 0.06], [0.0, 0.0, -1.0, -0.08], [1.0, 0.0, 0.0, -0.27], [0, 0, 0, 1]]
    )
    camera = CameraModel(
        "cam", np.array([[50.0, 0, 37.0], [0, 50.0, 20.0], [0, 0, 1]]), extrinsic, 80, 40
    )
    pose = np.eye(4)
    pose[:3, 3] = (10.0, -2.0, 0.5)
    image = rng.integers(0, 256, (40, 80, 3), dtype=np.uint8)
    return Frame(points, [image], [camera], pose, 1.5, 7)


def test_a_mirrored_frame_has_y_negated_images_flipped_and_mirrors_back():
    frame = _frame()
    mirrored = mirror_frame_y(frame)
    np.testing.assert_array_equal(mirrored.points[:, 1], -frame.points[:, 1])
    np.testing.assert_array_equal(mirrored.points[:, [0, 2, 3]], frame.points[:, [0, 2, 3]])
    np.testing.assert_array_equal(mirrored.images[0], frame.images[0][:, ::-1])
    assert mirrored.cameras[0].intrinsics[0, 2] == 80 - 37.0
    np.testing.assert_array_equal(mirrored.pose, frame.pose @ MIRROR_Y)
    assert (mirrored.time, mirrored.frame_id) == (1.5, 7)
    # the world position of a point is the same seen from either frame
    point = np.array([1.0, 2.0, 3.0, 1.0])
    np.testing.assert_allclose(mirrored.pose @ (MIRROR_Y @ point), frame.pose @ point)
    twice = mirror_frame_y(mirrored)
    np.testing.assert_array_equal(twice.points, frame.points)
    np.testing.assert_array_equal(twice.images[0], frame.images[0])
    np.testing.assert_allclose(twice.cameras[0].cam_from_ref, frame.cameras[0].cam_from_ref)
    np.testing.assert_allclose(twice.cameras[0].intrinsics, frame.cameras[0].intrinsics)
    np.testing.assert_allclose(twice.pose, frame.pose)
    assert frame.points[0, 1] != mirrored.points[0, 1]  # the input frame is left alone


def test_only_grids_centred_on_y_0_are_symmetric():
    assert y_symmetric(GridSpec((0.0, -4.0, -1.0), (1.0, 1.0, 1.0), (8, 8, 2)))
    assert not y_symmetric(GridSpec((0.0, -3.0, -1.0), (1.0, 1.0, 1.0), (8, 8, 2)))
