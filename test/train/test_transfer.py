"""A labelled key frame's static voxel labels carried into the other key frames
(`data.label_transfer`, `occle_core.train.transfer`)."""

from __future__ import annotations

import numpy as np
import pytest

from occle_core.geometry.grid import GridSpec
from occle_core.train.config import load_train_config
from occle_core.train.transfer import carried_labels, merge_carried, nearest_source

GRID = GridSpec(origin=(0.0, -2.0, -1.0), voxel_size=(0.5, 0.5, 0.5), dims=(8, 8, 4))
CAR, ROAD, WALL = 1, 9, 13


def _pose(x: float = 0.0, y: float = 0.0, yaw_deg: float = 0.0) -> np.ndarray:
    yaw = np.radians(yaw_deg)
    pose = np.eye(4)
    pose[:2, :2] = [[np.cos(yaw), -np.sin(yaw)], [np.sin(yaw), np.cos(yaw)]]
    pose[:2, 3] = (x, y)
    return pose


def _scene() -> np.ndarray:
    labels = np.zeros(GRID.shape, dtype=np.uint8)  # free space
    labels[:, :, 0] = ROAD
    labels[:, 0, :] = WALL
    labels[5, 4, 1] = CAR
    labels[7, 7, 3] = 255
    return labels


def test_a_forward_move_shifts_the_labels_back_by_whole_voxels():
    # The target frame is 1 m (two voxels) further along x: its voxel i is the source's i + 2.
    carried = carried_labels(_scene(), GRID, _pose(), _pose(x=1.0), movable=[CAR])
    ahead = _scene()[2:]
    np.testing.assert_array_equal(carried[:6][ahead != CAR], ahead[ahead != CAR])
    assert np.all(carried[6:] == 255)  # beyond the source grid: nothing carried
    assert carried[3, 4, 1] == 255  # the car may have left: not carried
    assert carried[5, 7, 3] == 255  # an unknown source voxel stays unknown


def test_a_turned_pose_maps_through_the_rotation():
    # The target frame is turned by 90 degrees and moved so that the source voxel (2, 1, 0),
    # centred at (1.25, -1.25), lands on the target's voxel centred at (1.25, 0.25): (2, 4, 0).
    source = np.full(GRID.shape, 255, dtype=np.uint8)
    source[2, 1, 0] = WALL
    target_pose = _pose(x=1.5, y=-2.5, yaw_deg=90.0)
    carried = carried_labels(source, GRID, _pose(), target_pose)
    hits = np.argwhere(carried == WALL)
    assert hits.tolist() == [[2, 4, 0]]
    centre = GRID.centers_of(hits)[0].astype(np.float64)
    in_source = target_pose[:3, :3] @ centre + target_pose[:3, 3]
    indices, inside = GRID.points_to_indices(in_source[None])
    assert inside[0] and tuple(indices[0]) == (2, 1, 0)


def test_merge_keeps_the_pseudo_grids_movable_classes_and_unknowns():
    pseudo = np.full((2, 2, 1), 255, dtype=np.uint8)
    pseudo[0, 0, 0] = CAR  # a car there now
    pseudo[0, 1, 0] = WALL
    pseudo[1, 0, 0] = 0
    carried = np.array([[[ROAD], [ROAD]], [[255], [ROAD]]], dtype=np.uint8)
    merged = merge_carried(pseudo, carried, movable=[CAR])
    assert merged[0, 0, 0] == CAR  # kept against the carried road
    assert merged[0, 1, 0] == ROAD  # the labelled frame's class wins over the pseudo label
    assert merged[1, 0, 0] == 0  # nothing carried: the pseudo label stays
    assert merged[1, 1, 0] == ROAD  # unknown in the pseudo grid: filled in
    assert pseudo[0, 1, 0] == WALL  # the input is not written into


def test_nearest_source_is_another_kept_frame_within_reach():
    assert nearest_source([0, 25], 10, reach=50) == 0
    assert nearest_source([0, 20], 10, reach=50) == 0  # ties: the earlier frame
    assert nearest_source([0, 25], 20, reach=50) == 25
    assert nearest_source([0], 30, reach=25) is None
    assert nearest_source([5], 5, reach=50) is None  # a frame is not its own source


def test_a_negative_reach_is_refused():
    with pytest.raises(ValueError, match=r"data\.label_transfer"):
        load_train_config(None, ["data.label_transfer=-1"])
