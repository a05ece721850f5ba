"""GridSpec conventions: voxel extent and centre, index layout, axis order and validation.

Convention under test (occle_core.geometry.grid): voxel (i, j, k) spans
``origin + [i, j, k] * size`` (inclusive) to ``origin + [i+1, j+1, k+1] * size`` (exclusive), its
centre is ``origin + ([i, j, k] + 0.5) * size``; with axis_order "xyz" the flat index is
``(i * Y + j) * Z + k``.
"""

from __future__ import annotations

import numpy as np
import pytest

from occle_core.geometry.grid import OCC3D_GRID, SEMANTICKITTI_GRID, GridSpec

# Every number below is exactly representable in binary floating point, so the expectations are
# exact and no boundary is blurred by rounding.
ORIGIN = (-1.0, 2.0, -0.5)
SIZE = (0.5, 0.25, 1.0)
DIMS = (4, 3, 2)


@pytest.fixture
def grid() -> GridSpec:
    return GridSpec(origin=ORIGIN, voxel_size=SIZE, dims=DIMS)


def all_voxels(dims: tuple[int, int, int]) -> np.ndarray:
    """(X*Y*Z, 3) every (i, j, k), i slowest."""
    return np.stack(np.meshgrid(*(np.arange(n) for n in dims), indexing="ij"), -1).reshape(-1, 3)


def test_centre_formula_for_every_voxel(grid: GridSpec) -> None:
    ijk = all_voxels(DIMS)
    expected = np.asarray(ORIGIN) + (ijk + 0.5) * np.asarray(SIZE)
    np.testing.assert_array_equal(grid.centers_of(ijk), expected.astype(np.float32))
    # One voxel spelled out: (1, 2, 1) -> (-1 + 1.5*0.5, 2 + 2.5*0.25, -0.5 + 1.5*1).
    np.testing.assert_array_equal(grid.centers_of(np.array([[1, 2, 1]])), [[-0.25, 2.625, 1.0]])


def test_derived_sizes(grid: GridSpec) -> None:
    assert grid.shape == (4, 3, 2)
    assert grid.num_voxels == 24
    assert grid.upper == (1.0, 2.75, 1.5)
    assert grid.permutation == (0, 1, 2)
    assert grid.to_dict() == {
        "origin": [-1.0, 2.0, -0.5],
        "voxel_size": [0.5, 0.25, 1.0],
        "dims": [4, 3, 2],
        "axis_order": "xyz",
        "frame_id": "lidar",
    }


def test_every_centre_maps_back_to_its_voxel(grid: GridSpec) -> None:
    ijk = all_voxels(DIMS)
    indices, inside = grid.points_to_indices(grid.centers_of(ijk))
    assert inside.all()
    np.testing.assert_array_equal(indices, ijk)


def test_lower_bound_inclusive_upper_bound_exclusive(grid: GridSpec) -> None:
    below = np.nextafter  # the float just below / above a boundary
    eps = 1e-9  # one ulp below 1.0 would round back up when the origin is subtracted
    points = np.array(
        [
            ORIGIN,  # outer corner of voxel (0, 0, 0)
            [-0.5, 2.25, 0.5],  # inner corner of voxel (1, 1, 1)
            [below(-0.5, -1.0), 2.25, 0.5],  # just below x boundary 1 -> i = 0
            [1.0 - eps, 2.75 - eps, 1.5 - eps],  # just inside the far corner
            [1.0, 2.5, 0.0],  # x on the upper face: outside
            [0.0, 2.75, 0.0],  # y on the upper face: outside
            [0.0, 2.5, 1.5],  # z on the upper face: outside
            [below(-1.0, -2.0), 2.5, 0.0],  # just below the lower x face: outside
        ]
    )
    indices, inside = grid.points_to_indices(points)
    np.testing.assert_array_equal(inside, [True, True, True, True, False, False, False, False])
    np.testing.assert_array_equal(indices[:4], [[0, 0, 0], [1, 1, 1], [0, 1, 1], [3, 2, 1]])
    assert indices.dtype == np.int64
    # Outside indices are still the floor of the position (the caller masks them).
    np.testing.assert_array_equal(indices[4], [4, 2, 0])
    np.testing.assert_array_equal(indices[7], [-1, 2, 0])


def test_points_to_indices_accepts_float32(grid: GridSpec) -> None:
    indices, inside = grid.points_to_indices(np.array([[0.9, 2.7, 1.4]], dtype=np.float32))
    assert inside.tolist() == [True]
    np.testing.assert_array_equal(indices, [[3, 2, 1]])


def test_linear_index_is_i_major_for_xyz(grid: GridSpec) -> None:
    ijk = all_voxels(DIMS)
    _, y, z = DIMS
    linear = grid.linear_indices(ijk)
    np.testing.assert_array_equal(linear, (ijk[:, 0] * y + ijk[:, 1]) * z + ijk[:, 2])
    # That is C order of an array labels[i, j, k]: flat position == value of np.arange.
    np.testing.assert_array_equal(linear, np.arange(24).reshape(DIMS)[tuple(ijk.T)])
    np.testing.assert_array_equal(grid.unravel(linear), ijk)
    assert grid.linear_indices(np.array([[3, 2, 1]])).tolist() == [23]
    assert grid.linear_indices(np.array([[1, 0, 1]])).tolist() == [7]


def test_axis_order_zyx_transposes_shape_and_indices(grid: GridSpec) -> None:
    zyx = GridSpec(origin=ORIGIN, voxel_size=SIZE, dims=DIMS, axis_order="zyx")
    assert zyx.shape == (2, 3, 4)
    assert zyx.permutation == (2, 1, 0)
    assert zyx.num_voxels == grid.num_voxels

    rng = np.random.default_rng(7)
    points = rng.uniform(grid.origin, grid.upper, size=(200, 3))
    xyz_idx, inside_xyz = grid.points_to_indices(points)
    zyx_idx, inside_zyx = zyx.points_to_indices(points)
    np.testing.assert_array_equal(inside_xyz, inside_zyx)
    np.testing.assert_array_equal(zyx_idx, xyz_idx[:, ::-1])  # array indices (k, j, i)
    # Flat index (k * Y + j) * X + i.
    k, j, i = zyx_idx.T
    np.testing.assert_array_equal(zyx.linear_indices(zyx_idx), (k * 3 + j) * 4 + i)
    # The same metric centre whatever the layout.
    np.testing.assert_array_equal(zyx.centers_of(zyx_idx), grid.centers_of(xyz_idx))
    # Dense grids built from the same points are transposes of each other.
    dense_xyz = np.zeros(grid.shape, np.int32)
    dense_zyx = np.zeros(zyx.shape, np.int32)
    np.add.at(dense_xyz, tuple(xyz_idx.T), 1)
    np.add.at(dense_zyx, tuple(zyx_idx.T), 1)
    np.testing.assert_array_equal(dense_zyx, dense_xyz.transpose(2, 1, 0))
    np.testing.assert_array_equal(zyx.voxel_centers(), grid.voxel_centers().transpose(2, 1, 0, 3))


def test_non_involutive_axis_order() -> None:
    """ "yzx" is its own test: its permutation differs from its inverse (unlike "zyx")."""
    spec = GridSpec(
        origin=(0.0, 0.0, 0.0), voxel_size=(1.0, 1.0, 1.0), dims=(5, 6, 7), axis_order="yzx"
    )
    assert spec.shape == (6, 7, 5)
    indices, inside = spec.points_to_indices(np.array([[4.5, 1.5, 2.5]]))  # metric (4, 1, 2)
    assert inside.all()
    np.testing.assert_array_equal(indices, [[1, 2, 4]])  # array axes run along y, z, x
    np.testing.assert_array_equal(spec.centers_of(indices), [[4.5, 1.5, 2.5]])
    assert spec.linear_indices(indices).tolist() == [(1 * 7 + 2) * 5 + 4]
    assert spec.voxel_centers()[1, 2, 4].tolist() == [4.5, 1.5, 2.5]


def test_voxel_centers_array(grid: GridSpec) -> None:
    centers = grid.voxel_centers()
    assert centers.shape == (4, 3, 2, 3)
    assert centers.dtype == np.float32
    assert centers[0, 0, 0].tolist() == [-0.75, 2.125, 0.0]
    assert centers[3, 2, 1].tolist() == [0.75, 2.625, 1.0]
    # x varies along the first axis only, y along the second, z along the third.
    np.testing.assert_array_equal(centers[:, 0, 0, 0], [-0.75, -0.25, 0.25, 0.75])
    np.testing.assert_array_equal(centers[0, :, 0, 1], [2.125, 2.375, 2.625])
    np.testing.assert_array_equal(centers[0, 0, :, 2], [0.0, 1.0])
    assert np.ptp(centers[:, :, :, 0], axis=(1, 2)).max() == 0


def test_semantickitti_grid() -> None:
    assert SEMANTICKITTI_GRID.shape == (256, 256, 32)
    assert SEMANTICKITTI_GRID.frame_id == "velodyne"
    np.testing.assert_allclose(SEMANTICKITTI_GRID.upper, (51.2, 25.6, 4.4), atol=1e-12)
    centers = SEMANTICKITTI_GRID.centers_of(np.array([[0, 0, 0], [255, 255, 31], [0, 128, 10]]))
    np.testing.assert_allclose(
        centers, [[0.1, -25.5, -1.9], [51.1, 25.5, 4.3], [0.1, 0.1, 0.1]], atol=1e-5
    )
    # The LiDAR itself (origin of the velodyne frame) sits on the first x slice, mid y.
    indices, inside = SEMANTICKITTI_GRID.points_to_indices(np.array([[0.0, 0.0, 0.0]]))
    assert inside.all()
    np.testing.assert_array_equal(indices, [[0, 128, 10]])


def test_occ3d_grid_and_from_range() -> None:
    assert OCC3D_GRID.shape == (200, 200, 16)
    assert OCC3D_GRID.frame_id == "ego"
    built = GridSpec.from_range((-40.0, -40.0, -1.0), (40.0, 40.0, 5.4), 0.4, frame_id="ego")
    assert built == OCC3D_GRID
    np.testing.assert_allclose(OCC3D_GRID.upper, (40.0, 40.0, 5.4), atol=1e-9)
    # The ego origin is the corner shared by voxels 99 and 100 in x and y, at z index 2.
    indices, inside = OCC3D_GRID.points_to_indices(np.array([[0.0, 0.0, 0.0], [-0.01, -0.01, 0.0]]))
    assert inside.all()
    np.testing.assert_array_equal(indices, [[100, 100, 2], [99, 99, 2]])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"axis_order": "xxy"}, "axis_order"),
        ({"axis_order": "xy"}, "axis_order"),
        ({"axis_order": "abc"}, "axis_order"),
        ({"origin": (0.0, 0.0)}, "three values"),
        ({"voxel_size": (0.2, 0.2)}, "three values"),
        ({"dims": (4, 4)}, "three values"),
        ({"voxel_size": (0.2, 0.0, 0.2)}, "voxel_size"),
        ({"voxel_size": (0.2, -0.2, 0.2)}, "voxel_size"),
        ({"voxel_size": (0.2, 0.2, float("nan"))}, "voxel_size"),
        ({"dims": (4, 0, 4)}, "dims"),
        ({"dims": (4, -2, 4)}, "dims"),
        ({"dims": (4, 2.5, 4)}, "dims"),
    ],
)
def test_validation_errors(kwargs: dict, message: str) -> None:
    arguments = {"origin": (0.0, 0.0, 0.0), "voxel_size": (0.2, 0.2, 0.2), "dims": (4, 4, 4)}
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        GridSpec(**arguments)


def test_grid_is_immutable_and_hashable(grid: GridSpec) -> None:
    with pytest.raises(AttributeError):
        grid.dims = (1, 1, 1)  # type: ignore[misc]
    assert hash(grid) == hash(GridSpec(origin=ORIGIN, voxel_size=SIZE, dims=DIMS))
