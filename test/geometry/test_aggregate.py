"""Multi-frame aggregation: exact hand-built transforms and two real consecutive KITTI scans."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from occle_core.data.semantickitti.calib import read_calib
from occle_core.data.semantickitti.files import read_velodyne
from occle_core.data.semantickitti.poses import read_poses, read_times
from occle_core.frame import Frame
from occle_core.geometry.aggregate import aggregate_frames


def pose(
    yaw_deg: float = 0.0, translation: tuple[float, float, float] = (0.0, 0.0, 0.0)
) -> np.ndarray:
    """world_from_sensor with a rotation about z (multiples of 90 degrees stay exact)."""
    c, s = {0: (1, 0), 90: (0, 1), 180: (-1, 0), 270: (0, -1)}[int(yaw_deg) % 360]
    out = np.eye(4)
    out[:2, :2] = [[c, -s], [s, c]]
    out[:3, 3] = translation
    return out


def test_translation_only() -> None:
    reference = Frame(np.zeros((1, 4), np.float32), pose=pose(), time=10.0)
    moved = Frame(
        np.array([[1.0, 2.0, 3.0, 0.5], [0.0, 0.0, 0.0, 0.25]], np.float32),
        pose=pose(translation=(10.0, -2.0, 0.5)),
        time=10.5,
    )
    out = aggregate_frames([moved], reference)
    np.testing.assert_array_equal(out.points, [[11.0, 0.0, 3.5, 0.5], [10.0, -2.0, 0.5, 0.25]])
    np.testing.assert_array_equal(out.source, [0, 0])
    np.testing.assert_array_equal(out.time_offset, [0.5, 0.5])


def test_rotation_and_translation_in_both_frames() -> None:
    # Reference at (10, 0, 0) facing +y; source at (10, 5, 1) facing -x.
    reference = Frame(np.zeros((0, 4), np.float32), pose=pose(90, (10.0, 0.0, 0.0)), time=0.0)
    source = Frame(
        np.array([[1.0, 0.0, 0.0, 7.0], [0.0, 2.0, -1.0, 8.0]], np.float32),
        pose=pose(180, (10.0, 5.0, 1.0)),
        time=-0.2,
    )
    out = aggregate_frames([source, reference], reference)
    # Source point (1, 0, 0) is world (9, 5, 1): in the reference frame 5 ahead, 1 left, 1 up.
    # Source point (0, 2, -1) is world (10, 3, 0) -> reference (3, 0, 0).
    np.testing.assert_allclose(out.points[:, :3], [[5.0, 1.0, 1.0], [3.0, 0.0, 0.0]], atol=1e-6)
    np.testing.assert_array_equal(out.points[:, 3], [7.0, 8.0])
    np.testing.assert_array_equal(out.source, [0, 0])
    np.testing.assert_allclose(out.time_offset, [-0.2, -0.2], atol=1e-7)
    assert out.points.dtype == np.float32 and out.source.dtype == np.int32
    assert out.time_offset.dtype == np.float32


def test_sources_offsets_and_extra_columns() -> None:
    frames = [
        Frame(
            np.full((n, 5), float(n), np.float32),
            pose=pose(translation=(n, 0.0, 0.0)),
            time=0.1 * n,
        )
        for n in (1, 2, 3)
    ]
    reference = frames[1]
    out = aggregate_frames(frames, reference)
    assert out.points.shape == (6, 4)  # the 5th column (e.g. nuScenes ring) is dropped
    np.testing.assert_array_equal(out.source, [0, 1, 1, 2, 2, 2])
    np.testing.assert_allclose(out.time_offset, [-0.1, 0, 0, 0.1, 0.1, 0.1], atol=1e-7)
    # x = own value + own translation - reference translation (2).
    np.testing.assert_allclose(out.points[:, 0], [0.0, 2.0, 2.0, 4.0, 4.0, 4.0], atol=1e-6)
    np.testing.assert_array_equal(out.points[:, 3], [1, 2, 2, 3, 3, 3])
    # The inputs are left untouched.
    np.testing.assert_array_equal(frames[2].points, np.full((3, 5), 3.0, np.float32))


def test_no_frames() -> None:
    out = aggregate_frames([], Frame(np.zeros((2, 4), np.float32)))
    assert out.points.shape == (0, 4) and out.source.shape == (0,) and out.time_offset.shape == (0,)


def nearest_distance(queries: np.ndarray, cloud: np.ndarray, chunk: int = 250) -> np.ndarray:
    """Brute-force nearest-neighbour distance of each query to `cloud` (float64, chunked)."""
    cloud = cloud.astype(np.float64)
    cloud_sq = (cloud**2).sum(axis=1)
    out = np.empty(len(queries))
    for start in range(0, len(queries), chunk):
        q = queries[start : start + chunk].astype(np.float64)
        d2 = cloud_sq[None, :] - 2.0 * q @ cloud.T + (q**2).sum(axis=1)[:, None]
        out[start : start + chunk] = np.sqrt(np.maximum(d2.min(axis=1), 0.0))
    return out


@pytest.mark.real_data
def test_real_consecutive_scans_align_with_the_poses(real_data: Path) -> None:
    seq = real_data / "semantickitti/sequences/00"
    calib = read_calib(seq / "calib.txt")
    poses = read_poses(seq / "poses.txt", calib.velo_to_cam0)
    times = read_times(seq / "times.txt")
    scan0 = read_velodyne(seq / "velodyne/000000.bin")
    scan1 = read_velodyne(seq / "velodyne/000001.bin")
    frame0 = Frame(scan0, pose=poses[0], time=float(times[0]), frame_id="00/000000")
    frame1 = Frame(scan1, pose=poses[1], time=float(times[1]), frame_id="00/000001")

    out = aggregate_frames([frame0, frame1], frame0)
    assert out.points.shape == (124668 + 124605, 4)
    np.testing.assert_array_equal(np.bincount(out.source), [124668, 124605])
    np.testing.assert_array_equal(np.unique(out.time_offset), np.float32([0.0, 0.1037359]))
    # Frame 0's pose is the identity up to 1e-8: its points stay where they are.
    np.testing.assert_allclose(out.points[:124668], scan0, atol=1e-5)
    moved = out.points[out.source == 1]
    np.testing.assert_array_equal(moved[:, 3], scan1[:, 3])
    # The car moved ~0.67 m forward between the scans.
    shift = np.median(moved[:, :3] - scan1[:, :3], axis=0)
    assert 0.6 < shift[0] < 0.75 and abs(shift[1]) < 0.05 and abs(shift[2]) < 0.05

    # Moved into frame 0, scan 1 lies closer to scan 0 than as recorded (README: median NN
    # distance 0.073 m before, 0.053 m after over all points; here a fixed 2000-point sample).
    sample = np.random.default_rng(0).choice(len(scan1), 2000, replace=False)
    before = np.median(nearest_distance(scan1[sample, :3], scan0[:, :3]))
    after = np.median(nearest_distance(moved[sample, :3], scan0[:, :3]))
    assert after < 0.8 * before
    assert 0.065 < before < 0.1
    assert 0.045 < after < 0.06
