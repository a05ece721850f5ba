"""Class alignment tables and the Boolean merge of ../shared/design/model.md."""

from __future__ import annotations

import numpy as np
import pytest

from occle_core.errors import DataFormatError
from occle_core.pseudo.alignment import IGNORE, load_alignment
from occle_core.pseudo.merge import merge_pseudo_labels


@pytest.fixture(scope="module")
def kitti():
    return load_alignment("semantickitti")


def test_semantickitti_table(kitti):
    names = kitti.class_names
    assert names[0] == "empty" and len(names) == 20
    open_names = [item.name for item in kitti.open_vocabulary]
    # The classes a Cityscapes-style segmenter lacks (design: parking, other-ground, trunk).
    assert {"parking", "other-ground", "trunk"} <= set(open_names)
    assert kitti.dataset_specific["sky"] == IGNORE
    assert kitti.dataset_specific["wall"] == names.index("building")
    trunk = next(i for i in kitti.open_vocabulary if i.name == "trunk")
    assert {names[p] for p in trunk.parents} == {"vegetation", "pole"}
    # Every target class except empty is reachable by one of the two routes.
    reachable = set(kitti.dataset_specific.values()) | {i.class_id for i in kitti.open_vocabulary}
    assert reachable - {IGNORE} == set(range(1, 20))


def test_occ3d_table():
    occ3d = load_alignment("occ3d")
    names = occ3d.class_names
    assert names[17] == "free"
    assert {i.name for i in occ3d.open_vocabulary} == {
        "construction_vehicle",
        "traffic_cone",
        "other_flat",
        "others",
    }
    reachable = set(occ3d.dataset_specific.values()) | {i.class_id for i in occ3d.open_vocabulary}
    assert reachable - {IGNORE} == set(range(17))


def test_segmenter_lut_maps_names_and_rejects_unknown_ones(kitti):
    lut = kitti.segmenter_lut({0: "road", 1: "Traffic_Sign", 2: "sky"}, "segformer")
    names = kitti.class_names
    assert lut.tolist() == [names.index("road"), names.index("traffic-sign"), IGNORE]
    with pytest.raises(DataFormatError, match="segformer: segmenter class 'boat'"):
        kitti.segmenter_lut({0: "boat"}, "segformer")


def test_merge_needs_mask_and_parent_and_respects_priority(kitti):
    names = kitti.class_names
    road, veg, pole = names.index("road"), names.index("vegetation"), names.index("pole")
    trunk, parking = names.index("trunk"), names.index("parking")
    dataset_map = np.array([[road, road, veg, pole, IGNORE]], dtype=np.uint8)
    masks = {
        trunk: np.array([[True, False, True, True, True]]),  # not on road, not on sky
        parking: np.array([[True, True, True, False, False]]),  # only on road / sidewalk
    }
    merged = merge_pseudo_labels(dataset_map, masks, kitti)
    assert merged.tolist() == [[parking, parking, trunk, trunk, IGNORE]]
    assert dataset_map[0, 0] == road  # input untouched
    with pytest.raises(ValueError, match="mask of trunk"):
        merge_pseudo_labels(dataset_map, {trunk: np.zeros((2, 2), bool)}, kitti)
