"""Conservative voxel rasterisation of primitives: exact footprints and class priority."""

import numpy as np

from occle_core.data.synthetic.rasterize import CLASS_PRIORITY, rasterize
from occle_core.data.synthetic.shapes import Kind, Primitive, Primitives
from occle_core.geometry.grid import GridSpec

GRID = GridSpec(origin=(0.0, 0.0, 0.0), voxel_size=(1.0, 1.0, 1.0), dims=(10, 10, 4))


def test_axis_aligned_box_covers_exactly_the_voxels_it_overlaps():
    box = Primitive(Kind.BOX, (3.5, 4.5, 1.5), (1.2, 0.3, 0.4), 0.0, 13)
    labels = rasterize(Primitives.from_list([box]), GRID, np.eye(4)).labels
    # x in [2.3, 4.7] -> voxels 2..4; y in [4.2, 4.8] -> 4; z in [1.1, 1.9] -> 1.
    expected = np.zeros(GRID.shape, np.uint8)
    expected[2:5, 4, 1] = 13
    np.testing.assert_array_equal(labels, expected)


def test_rotated_box_uses_separating_axes_not_its_bounding_box():
    # A thin box along the diagonal of the xy plane: its axis-aligned bounding box covers a
    # 4x4 block, but only the voxels along the diagonal really intersect it.
    box = Primitive(Kind.BOX, (5.0, 5.0, 0.5), (2.0, 0.05, 0.4), np.pi / 4, 14)
    labels = rasterize(Primitives.from_list([box]), GRID, np.eye(4)).labels[:, :, 0]
    covered = set(map(tuple, np.argwhere(labels == 14)))
    assert {(4, 4), (5, 5), (3, 3), (6, 6)} <= covered
    assert (3, 6) not in covered and (6, 3) not in covered


def test_grid_pose_moves_the_sampled_volume():
    box = Primitive(Kind.BOX, (13.5, 4.5, 1.5), (0.4, 0.4, 0.4), 0.0, 1)
    pose = np.eye(4)
    pose[0, 3] = 10.0  # the grid frame sits 10 m further along world x
    labels = rasterize(Primitives.from_list([box]), GRID, pose).labels
    assert np.argwhere(labels == 1).tolist() == [[3, 4, 1]]


def test_cylinder_footprint_and_priority_over_ground():
    ground = Primitive(Kind.BOX, (5, 5, 0.5), (10, 10, 0.5), 0.0, 9)
    pole = Primitive(Kind.CYLINDER, (5.0, 5.0, 2.0), (0.3, 0.3, 2.0), 0.0, 18)
    labels = rasterize(Primitives.from_list([pole, ground]), GRID, np.eye(4)).labels
    assert CLASS_PRIORITY[18] > CLASS_PRIORITY[9]
    # The pole sits on the corner shared by voxels 4 and 5 in x and y: four columns, all heights.
    columns = {tuple(ij) for ij in np.argwhere((labels == 18).any(axis=2))}
    assert columns == {(4, 4), (4, 5), (5, 4), (5, 5)}
    assert (labels[4:6, 4:6, :] == 18).all()
    assert (labels[0, 0, 0] == 9) and (labels[0, 0, 1] == 0)


def test_level_grid_is_required():
    tilted = np.eye(4)
    tilted[:3, :3] = [[1, 0, 0], [0, 0, -1], [0, 1, 0]]
    box = Primitives.from_list([Primitive(Kind.BOX, (1, 1, 1), (0.2, 0.2, 0.2), 0.0, 1)])
    try:
        rasterize(box, GRID, tilted)
    except ValueError as error:
        assert "level" in str(error)
    else:
        raise AssertionError("a tilted grid must be rejected")
