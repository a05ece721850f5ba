"""The simulated foundation model, lifting to points and voxels, and pseudo-label quality."""

from __future__ import annotations

import numpy as np
import pytest

from occle_core.geometry.camera import CameraModel
from occle_core.pseudo.alignment import IGNORE, load_alignment
from occle_core.pseudo.lifting import point_pseudo_labels, vote_voxel_labels
from occle_core.pseudo.quality import LabelAgreement
from occle_core.pseudo.simulated import SimulatedErrors, SimulatedFoundationModel


@pytest.fixture(scope="module")
def kitti():
    return load_alignment("semantickitti")


def scene(kitti):
    """A 60x80 image: sky, building, road with a parking patch, a car, a small person, a trunk."""
    n = kitti.class_names.index
    semantic = np.full((60, 80), IGNORE, dtype=np.uint8)
    semantic[15:35] = n("building")
    semantic[35:] = n("road")
    semantic[45:55, 5:30] = n("parking")
    semantic[20:35, 60:64] = n("trunk")
    instance = np.zeros((60, 80), dtype=np.int32)
    semantic[38:50, 40:60] = n("car")
    instance[38:50, 40:60] = 1
    semantic[40:44, 10:13] = n("person")  # 12 pixels: a small object
    instance[40:44, 10:13] = 2
    return semantic, instance


def test_perfect_simulation_reproduces_the_labels_through_the_merge(kitti):
    semantic, instance = scene(kitti)
    perfect = SimulatedErrors(0, 0.0, 0.0, 0.0, 0, 0.0, 0)
    labels = SimulatedFoundationModel(kitti, perfect)(semantic, instance, np.random.default_rng(0))
    # The parking patch and the trunk come back through the open-vocabulary route + merge.
    np.testing.assert_array_equal(labels, semantic)


def test_errors_are_realistic_and_seeded(kitti):
    semantic, instance = scene(kitti)
    model = SimulatedFoundationModel(kitti)
    first = model(semantic, instance, np.random.default_rng(3))
    assert np.array_equal(first, model(semantic, instance, np.random.default_rng(3)))
    n = kitti.class_names.index
    # The 12-pixel person is missed: it takes the label around it.
    assert not np.any(first[41:43, 11] == n("person"))
    dataset_map = model.dataset_specific(semantic, instance, np.random.default_rng(3))
    assert not np.any(dataset_map == n("trunk")) and not np.any(dataset_map == n("parking"))
    # Mostly right, never perfect: pixel accuracy over 20 draws.
    labelled = semantic != IGNORE
    accuracy = [
        np.mean(model(semantic, instance, np.random.default_rng(s))[labelled] == semantic[labelled])
        for s in range(20)
    ]
    assert 0.8 < np.mean(accuracy) < 0.99
    agreement = LabelAgreement(kitti.class_names, skip=[0])
    agreement.add(first, semantic)
    assert agreement.iou()["building"] > 0.9 and agreement.iou()["person"] == 0.0
    assert agreement.coverage() > 0.95


def test_open_vocabulary_route_misses_whole_classes_at_its_rate(kitti):
    semantic, _instance = scene(kitti)
    errors = SimulatedErrors(open_vocabulary_miss_rate=0.5)
    model = SimulatedFoundationModel(kitti, errors)
    trunk = kitti.class_names.index("trunk")
    hits = [
        trunk in model.open_vocabulary(semantic, np.random.default_rng(seed)) for seed in range(200)
    ]
    assert 0.38 < np.mean(hits) < 0.62


def test_points_take_the_label_of_their_pixel():
    k = np.array([[10.0, 0, 4], [0, 10.0, 3], [0, 0, 1]])
    camera = CameraModel("cam", k, np.eye(4), 8, 6)  # camera frame = reference frame
    image = np.arange(48, dtype=np.uint8).reshape(6, 8)
    points = np.array([[0.0, 0.0, 5.0], [0.25, -0.15, 5.0], [0.0, 0.0, -5.0], [50.0, 0, 1.0]])
    labels = point_pseudo_labels(points, camera, image)
    # (u, v) = (4, 3) -> pixel (3, 4) = 28; (4.5, 2.7) -> row 2, column 4 = 20; behind; outside.
    assert labels.tolist() == [28, 20, IGNORE, IGNORE]
    with pytest.raises(ValueError, match="8x6"):
        point_pseudo_labels(points, camera, image[:, :5])


def test_voxel_vote_is_a_majority_that_ignores_unknown_points():
    point_voxel = np.array([0, 0, 0, 1, 1, 2, -1, 2])
    labels = np.array([3, 3, 5, 7, IGNORE, IGNORE, 9, IGNORE], dtype=np.uint8)
    assert vote_voxel_labels(point_voxel, labels, 4, 10).tolist() == [3, 7, IGNORE, IGNORE]
    # Ties go to the lower class id.
    assert vote_voxel_labels(np.array([0, 0]), np.array([6, 2], np.uint8), 1, 10).tolist() == [2]
