"""Voxelisation: exact hand-built cases, the per-voxel cap, and the real SemanticKITTI scan."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from occle_core.data.semantickitti.files import read_velodyne
from occle_core.geometry.grid import SEMANTICKITTI_GRID, GridSpec
from occle_core.geometry.voxelize import POINT_FEATURES, VoxelizedPoints, voxelize

UNIT = GridSpec(origin=(0.0, 0.0, 0.0), voxel_size=(1.0, 1.0, 1.0), dims=(4, 3, 2))


def test_hand_built_points_exact_output() -> None:
    points = np.array(
        [
            [0.5, 0.5, 0.5, 1.0],  # voxel (0, 0, 0), at its centre
            [3.25, 2.75, 1.5, 2.0],  # voxel (3, 2, 1), the last one
            [0.25, 0.75, 0.125, 3.0],  # voxel (0, 0, 0) again
            [5.0, 0.0, 0.0, 4.0],  # outside (x >= 4)
            [-0.25, 0.0, 0.0, 5.0],  # outside (x < 0)
            [1.0, 2.0, 1.0, 6.0],  # voxel (1, 2, 1): lower corner is inclusive
        ],
        dtype=np.float32,
    )
    vox = voxelize(points, UNIT, max_points=3)
    assert isinstance(vox, VoxelizedPoints)
    assert POINT_FEATURES == ("x", "y", "z", "intensity", "dx", "dy", "dz")
    # Sorted by flat index (i * 3 + j) * 2 + k: 0, 11, 23.
    np.testing.assert_array_equal(vox.coords, [[0, 0, 0], [1, 2, 1], [3, 2, 1]])
    assert vox.coords.dtype == np.int32 and vox.num_voxels == 3
    np.testing.assert_array_equal(vox.num_points, [2, 1, 1])
    assert vox.num_points.dtype == np.int32
    np.testing.assert_array_equal(vox.point_voxel, [0, 2, 0, -1, -1, 1])
    assert vox.point_voxel.dtype == np.int64
    assert vox.features.shape == (3, 3, 7) and vox.features.dtype == np.float32
    expected = np.zeros((3, 3, 7), np.float32)
    expected[0, 0] = [0.5, 0.5, 0.5, 1.0, 0.0, 0.0, 0.0]
    expected[0, 1] = [0.25, 0.75, 0.125, 3.0, -0.25, 0.25, -0.375]
    expected[1, 0] = [1.0, 2.0, 1.0, 6.0, -0.5, -0.5, -0.5]
    expected[2, 0] = [3.25, 2.75, 1.5, 2.0, -0.25, 0.25, 0.0]
    np.testing.assert_array_equal(vox.features, expected)
    np.testing.assert_array_equal(
        vox.mean_features()[0], [0.375, 0.625, 0.3125, 2.0, -0.125, 0.125, -0.1875]
    )


def test_extra_columns_are_ignored() -> None:
    points = np.array([[0.5, 1.5, 0.5, 7.0, 99.0]])
    vox = voxelize(points, UNIT)
    assert vox.features.shape == (1, 10, 7)
    np.testing.assert_array_equal(vox.features[0, 0], [0.5, 1.5, 0.5, 7.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(vox.coords, [[0, 1, 0]])


def crowded_voxel(count: int = 6) -> np.ndarray:
    """`count` points in voxel (1, 1, 1) whose intensity is their input position."""
    points = np.full((count, 4), 1.5, dtype=np.float32)
    points[:, 0] += np.linspace(-0.4, 0.4, count)
    points[:, 3] = np.arange(count)
    return points


def test_cap_keeps_the_first_points_without_rng() -> None:
    points = np.vstack([crowded_voxel(6), [[0.5, 0.5, 0.5, 100.0]]]).astype(np.float32)
    vox = voxelize(points, UNIT, max_points=3)
    np.testing.assert_array_equal(vox.coords, [[0, 0, 0], [1, 1, 1]])
    np.testing.assert_array_equal(vox.num_points, [1, 3])
    np.testing.assert_array_equal(vox.features[1, :, 3], [0, 1, 2])  # first three, in order
    np.testing.assert_array_equal(vox.features[1, :, 0], points[:3, 0])
    # Dropped points still report their voxel.
    np.testing.assert_array_equal(vox.point_voxel, [1, 1, 1, 1, 1, 1, 0])
    np.testing.assert_array_equal(vox.features[0, 1:], 0)  # zero padding


def test_cap_with_rng_draws_a_deterministic_random_subset() -> None:
    points = crowded_voxel(8)
    subsets = set()
    for seed in range(20):
        first = voxelize(points, UNIT, max_points=3, rng=np.random.default_rng(seed))
        again = voxelize(points, UNIT, max_points=3, rng=np.random.default_rng(seed))
        np.testing.assert_array_equal(first.features, again.features)
        kept = first.features[0, :, 3].astype(int)
        assert first.num_points.tolist() == [3]
        assert len(set(kept.tolist())) == 3 and set(kept.tolist()) <= set(range(8))
        # Each kept row is the full, consistent feature vector of that input point.
        np.testing.assert_array_equal(first.features[0, :, :4], points[kept])
        np.testing.assert_allclose(first.features[0, :, 4], points[kept, 0] - 1.5, atol=1e-6)
        np.testing.assert_array_equal(first.point_voxel, np.zeros(8))
        subsets.add(tuple(sorted(kept.tolist())))
    assert len(subsets) > 1  # not always the first T
    # With room for every point the rng changes only the order, not the content.
    full = voxelize(points, UNIT, max_points=8, rng=np.random.default_rng(0))
    assert sorted(full.features[0, :, 3].tolist()) == list(range(8))


def test_points_outside_and_empty_input() -> None:
    outside = np.array([[-1.0, 0.5, 0.5, 0.0], [0.5, 3.0, 0.5, 0.0], [0.5, 0.5, 2.0, 0.0]])
    vox = voxelize(outside, UNIT)
    assert vox.num_voxels == 0
    assert vox.coords.shape == (0, 3) and vox.features.shape == (0, 10, 7)
    np.testing.assert_array_equal(vox.point_voxel, [-1, -1, -1])
    assert not vox.occupancy(UNIT).any()
    empty = voxelize(np.zeros((0, 4), np.float32), UNIT)
    assert empty.num_voxels == 0 and empty.point_voxel.shape == (0,)


def test_occupancy_dense_grid() -> None:
    points = np.array(
        [[0.5, 0.5, 0.5, 0], [3.5, 2.5, 1.5, 0], [3.9, 2.1, 1.1, 0], [2.5, 0.5, 1.5, 0]]
    )
    dense = voxelize(points, UNIT).occupancy(UNIT)
    assert dense.shape == (4, 3, 2) and dense.dtype == np.bool_
    assert int(dense.sum()) == 3
    assert dense[0, 0, 0] and dense[3, 2, 1] and dense[2, 0, 1]


def test_non_default_axis_order_gives_array_order_coords() -> None:
    zyx = GridSpec(
        origin=(0.0, 0.0, 0.0), voxel_size=(1.0, 1.0, 1.0), dims=(4, 3, 2), axis_order="zyx"
    )
    vox = voxelize(np.array([[3.5, 1.5, 0.5, 0.0]]), zyx)
    np.testing.assert_array_equal(vox.coords, [[0, 1, 3]])
    np.testing.assert_array_equal(vox.features[0, 0, 4:], [0, 0, 0])  # centre found correctly
    assert vox.occupancy(zyx)[0, 1, 3]


def test_input_validation() -> None:
    with pytest.raises(ValueError, match="points has shape"):
        voxelize(np.zeros((3, 3)), UNIT)
    with pytest.raises(ValueError, match="max_points"):
        voxelize(np.zeros((3, 4)), UNIT, max_points=0)


# --- the real scan --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def scan(real_data: Path) -> np.ndarray:
    return read_velodyne(real_data / "semantickitti/sequences/00/velodyne/000000.bin")


@pytest.fixture(scope="module")
def scan_voxels(scan: np.ndarray) -> VoxelizedPoints:
    return voxelize(scan, SEMANTICKITTI_GRID, max_points=10)


@pytest.mark.real_data
def test_real_scan_voxel_count_matches_independent_numpy(
    scan: np.ndarray, scan_voxels: VoxelizedPoints
) -> None:
    # Independent computation: floor((p - origin) / 0.2) in float64, keep 0 <= idx < dims.
    idx = np.floor((scan[:, :3].astype(np.float64) - [0.0, -25.6, -2.0]) / 0.2).astype(np.int64)
    inside = np.all((idx >= 0) & (idx < [256, 256, 32]), axis=1)
    flat = (idx[inside, 0] * 256 + idx[inside, 1]) * 32 + idx[inside, 2]
    unique, counts = np.unique(flat, return_counts=True)
    assert 10000 < unique.size < 60000  # sanity: a real scan, not a degenerate one
    assert scan_voxels.num_voxels == unique.size
    np.testing.assert_array_equal(SEMANTICKITTI_GRID.linear_indices(scan_voxels.coords), unique)
    np.testing.assert_array_equal(scan_voxels.num_points, np.minimum(counts, 10))
    np.testing.assert_array_equal(scan_voxels.point_voxel >= 0, inside)
    assert int(scan_voxels.occupancy(SEMANTICKITTI_GRID).sum()) == unique.size


@pytest.mark.real_data
def test_real_scan_every_point_lies_in_its_voxel(
    scan: np.ndarray, scan_voxels: VoxelizedPoints
) -> None:
    rows = np.flatnonzero(scan_voxels.point_voxel >= 0)
    coords = scan_voxels.coords[scan_voxels.point_voxel[rows]].astype(np.float64)
    lower = np.asarray(SEMANTICKITTI_GRID.origin) + coords * 0.2
    xyz = scan[rows, :3].astype(np.float64)
    assert (xyz >= lower - 1e-9).all() and (xyz < lower + 0.2 + 1e-9).all()
    # Offsets to the voxel centre are within half a voxel.
    kept = np.arange(10)[None, :] < scan_voxels.num_points[:, None]
    assert np.abs(scan_voxels.features[kept][:, 4:]).max() <= 0.1 + 1e-5


@pytest.mark.real_data
def test_real_scan_axis_convention(scan: np.ndarray, scan_voxels: VoxelizedPoints) -> None:
    """Axis convention: x forward = first array axis, y left = second, z up = third.

    The road in front of the car (5..20 m ahead, within 3 m laterally, the lowest returns there,
    about 1.73 m below the sensor) must land in the lowest z slices (k), at i = 25..99 along x and
    at j = 113..142 around the centre of y.
    """
    x, y, z = scan[:, 0], scan[:, 1], scan[:, 2]
    corridor = (np.abs(y) < 3.0) & (x >= 5.0) & (x < 20.0)
    ground = corridor & (z <= np.percentile(z[corridor], 20))
    assert ground.sum() > 1000
    coords = scan_voxels.coords[scan_voxels.point_voxel[ground]]
    assert coords[:, 2].max() <= 1  # k: bottom two 0.2 m slices (-2.0..-1.6 m)
    assert coords[:, 0].min() >= 25 and coords[:, 0].max() <= 99  # i: 5..20 m forward
    assert coords[:, 1].min() >= 113 and coords[:, 1].max() <= 142  # j: -3..3 m lateral
    # Left of the car (y > 0) is the upper half of j; high returns are in high k.
    left = scan_voxels.point_voxel[(y > 1.0) & (scan_voxels.point_voxel >= 0)]
    assert scan_voxels.coords[left, 1].min() >= 133
    high = scan_voxels.point_voxel[(z > 1.0) & (scan_voxels.point_voxel >= 0)]
    assert high.size > 100 and scan_voxels.coords[high, 2].min() >= 15  # z > 1 m -> k >= 15
