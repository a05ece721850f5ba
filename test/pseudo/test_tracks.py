"""People and riders followed to the key frame for the dense voxel pseudo labels."""

from __future__ import annotations

import numpy as np
import pytest

from occle_core.data.semantickitti.labels import load_label_config
from occle_core.pseudo.tracks import (
    ObjectTracking,
    connected_cells,
    follow_objects,
    tracked_class_ids,
)

PERSON, BICYCLIST, CAR = 6, 7, 1


def blob(centre: tuple[float, float], count: int = 12, seed: int = 0) -> np.ndarray:
    """(count, 3) points of a 0.4 m wide object at `centre` (z from 0 to 1.7 m)."""
    rng = np.random.default_rng(seed)
    xy = np.asarray(centre) + rng.uniform(-0.2, 0.2, size=(count, 2))
    return np.column_stack([xy, rng.uniform(0.0, 1.7, count)])


def window_of(objects: list[tuple[int, int, tuple[float, float]]]):
    """Points, labels and scan positions of (scan, class, centre) objects."""
    points = [blob(centre, seed=i) for i, (_, _, centre) in enumerate(objects)]
    labels = [
        np.full(len(p), label, np.uint8) for p, (_, label, _) in zip(points, objects, strict=True)
    ]
    scans = [np.full(len(p), scan) for p, (scan, _, _) in zip(points, objects, strict=True)]
    return np.concatenate(points), np.concatenate(labels), np.concatenate(scans)


def test_connected_cells_groups_touching_cells_only():
    xy = np.array([[0.1, 0.1], [0.3, 0.2], [0.6, 0.6], [2.1, 2.1], [2.2, 2.3], [5.0, 0.1]])
    component = connected_cells(xy, cell=0.5)
    # (0, 0) and (1, 1) touch diagonally; (4, 4) and (10, 0) stand alone.
    assert component[0] == component[1] == component[2]
    assert len({component[0], component[3], component[5]}) == 3 and component[3] == component[4]
    assert connected_cells(np.zeros((0, 2)), 0.5).shape == (0,)


def test_a_walking_person_is_moved_onto_where_it_is_at_the_key_scan():
    # A person walks 0.15 m per scan along x; the key scan is the third of five. A second
    # person appears only after the key scan, 10 m away; a car (not followed) stands still.
    walker = [(s, PERSON, (5.0 + 0.15 * s, 2.0)) for s in range(5)]
    newcomer = [(s, PERSON, (15.0, -3.0)) for s in (3, 4)]
    car = [(s, CAR, (8.0, 4.0)) for s in range(5)]
    points, labels, scans = window_of(walker + newcomer + car)
    keep, shift = follow_objects(points, labels, scans, key_scan=2, tracked=[PERSON, BICYCLIST])

    moved = points[:, :2] + shift
    key_walker = (scans == 2) & (labels == PERSON)
    key_centre = points[key_walker, :2].mean(axis=0)
    for s in range(5):
        chosen = (scans == s) & (labels == PERSON) & (np.abs(points[:, 0] - 15.0) > 1.0)
        assert keep[chosen].all()
        np.testing.assert_allclose(moved[chosen, :2].mean(axis=0), key_centre, atol=1e-9)
    np.testing.assert_array_equal(shift[key_walker], 0.0)  # the key scan's own points stay
    far = np.abs(points[:, 0] - 15.0) < 1.0
    assert not keep[far].any()  # never at the key frame: left out
    assert keep[labels == CAR].all() and not shift[labels == CAR].any()


def test_links_need_the_same_class_and_a_reachable_distance():
    # The key scan has a person; another scan has a bicyclist at the same place (not linked:
    # other class) and a person 3 m away one scan later (farther than the link radius).
    objects = [(1, PERSON, (0.0, 0.0)), (2, BICYCLIST, (0.0, 0.0)), (2, PERSON, (3.0, 0.0))]
    points, labels, scans = window_of(objects)
    keep, _ = follow_objects(points, labels, scans, key_scan=1, tracked=[PERSON, BICYCLIST])
    assert keep[scans == 1].all() and not keep[scans == 2].any()
    # A wider radius links the person, and a scan without the class is bridged: the radius
    # grows with the gap (1 m per scan: 3 m over three scans).
    keep, _ = follow_objects(
        points, labels, scans, 1, [PERSON, BICYCLIST], ObjectTracking(link_radius=3.5)
    )
    assert keep[(scans == 2) & (labels == PERSON)].all()
    gap = [(0, PERSON, (0.0, 0.0)), (3, PERSON, (2.5, 0.0))]
    points, labels, scans = window_of(gap)
    keep, shift = follow_objects(points, labels, scans, 0, [PERSON])
    assert keep.all() and shift[scans == 3, 0].mean() == pytest.approx(-2.5, abs=0.15)


def test_nothing_to_follow_at_the_key_scan_drops_the_class_and_settings_are_checked():
    points, labels, scans = window_of([(0, PERSON, (0.0, 0.0)), (1, CAR, (4.0, 0.0))])
    keep, shift = follow_objects(points, labels, scans, key_scan=1, tracked=[PERSON])
    assert not keep[labels == PERSON].any() and keep[labels == CAR].all() and not shift.any()
    keep, _ = follow_objects(points, labels, scans, key_scan=1, tracked=[])
    assert keep.all()
    with pytest.raises(ValueError, match="must be positive"):
        ObjectTracking(cell=0.0)


def test_the_followed_classes_of_the_label_sets():
    names = load_label_config().class_names
    assert [names[i] for i in tracked_class_ids(names)] == ["person", "bicyclist", "motorcyclist"]
    occ3d = ["others", "barrier", "bicycle", "bus", "car", "pedestrian", "free"]
    assert tracked_class_ids(occ3d) == (5,)
