"""Observed / occluded voxels from range images, on hand-built range images."""

import numpy as np

from occle_core.data.synthetic.rig import LidarSpec
from occle_core.data.synthetic.visibility import ScanView, observed_voxels, occluded_voxels

SPEC = LidarSpec(
    beams=3, elevation_min_deg=-10.0, elevation_max_deg=10.0, azimuth_steps=4, max_range=50.0
)


def _view(range_image):
    return ScanView(world_from_lidar=np.eye(4), range_image=np.asarray(range_image, np.float32))


def test_bins_follow_beams_and_azimuth_columns():
    # Column 0 looks backwards (azimuth +pi..+pi/2), column 2 forwards-right (0..-pi/2).
    points = np.array([[10.0, -1.0, 0.0], [-10.0, 1.0, 0.0], [10.0, 0.5, 1.76]])
    row, column, inside = SPEC.bin_of(points)
    assert row.tolist() == [1, 1, 0] and column.tolist() == [2, 0, 1] and inside.all()


def test_free_space_surface_and_behind():
    image = np.full((3, 4), np.inf)
    image[1, 2] = 10.0  # one return 10 m ahead-right, in the middle beam
    centers = np.array(
        [
            [5.0, -0.5, 0.0],  # in front of the return: free, observed
            [10.0, -0.5, 0.0],  # at the return: observed (surface)
            [20.0, -1.0, 0.0],  # behind the return: occluded, not observed
            [-20.0, 1.0, 0.0],  # no return in that beam: free up to max range
            [-60.0, 1.0, 0.0],  # beyond max range: not observed
            [10.0, 0.0, 9.0],
        ]
    )  # above every beam: outside the fan
    observed = observed_voxels(centers, [_view(image)], SPEC, margin=0.2)
    assert observed.tolist() == [True, True, False, True, False, False]
    occluded = occluded_voxels(centers, _view(image), SPEC, margin=0.2)
    assert occluded.tolist() == [False, False, True, False, False, False]


def test_dropped_returns_observe_nothing_and_scans_accumulate():
    dropped = np.full((3, 4), np.inf)
    dropped[1, 2] = np.nan
    centers = np.array([[5.0, -0.5, 0.0]])
    assert not observed_voxels(centers, [_view(dropped)], SPEC, 0.2)[0]
    seen = np.full((3, 4), np.inf)
    assert observed_voxels(centers, [_view(dropped), _view(seen)], SPEC, 0.2)[0]


def test_views_are_placed_by_their_pose():
    image = np.full((3, 4), np.inf)
    image[1, 2] = 3.0
    pose = np.eye(4)
    pose[0, 3] = 100.0  # this scan was taken 100 m further along x
    view = ScanView(pose, image.astype(np.float32))
    # 105 m in the world is 5 m ahead of that scan: behind its 3 m return.
    assert occluded_voxels(np.array([[105.0, -0.5, 0.0]]), view, SPEC, 0.2)[0]
