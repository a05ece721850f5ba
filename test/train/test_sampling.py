"""How often an epoch visits the labelled frames (`data.labelled_repeat`)."""

from __future__ import annotations

import pytest

from occle_core.train.config import load_train_config
from occle_core.train.sampling import epoch_items

ITEMS = [("00", 0), ("00", 5), ("01", 0), ("01", 5)]


def test_labelled_frames_are_visited_labelled_repeat_times():
    kept = {("00", 5), ("01", 0)}
    indices = epoch_items(ITEMS, lambda s, i: (s, i) in kept, labelled_repeat=3)
    assert sorted(indices) == [0, 1, 1, 1, 2, 2, 2, 3]


def test_one_visit_each_is_the_plain_pass():
    assert epoch_items(ITEMS, lambda s, i: True, labelled_repeat=1) == [0, 1, 2, 3]


def test_repeat_below_one_is_refused():
    with pytest.raises(ValueError, match="labelled_repeat"):
        epoch_items(ITEMS, lambda s, i: True, labelled_repeat=0)
    with pytest.raises(ValueError, match=r"data\.labelled_repeat"):
        load_train_config(None, ["data.labelled_repeat=0"])


def test_unlabelled_frames_can_be_left_out():
    kept = {("00", 5), ("01", 0)}
    indices = epoch_items(ITEMS, lambda s, i: (s, i) in kept, 2, unlabelled_frames=False)
    assert sorted(indices) == [1, 1, 2, 2]


def test_leaving_out_every_frame_is_refused():
    with pytest.raises(ValueError, match=r"data\.unlabelled_frames is false.*4 frames"):
        epoch_items(ITEMS, lambda s, i: False, unlabelled_frames=False)
