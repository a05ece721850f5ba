"""The voxel-label budget: frames and voxels modes, reproducibility, manifest."""

from __future__ import annotations

import numpy as np
import pytest

from occle_core.train.budget import IGNORE, LabelBudget, LabelBudgetConfig


def test_frames_mode_keeps_every_kth_labelled_frame_over_all_sequences():
    frames = {"00": list(range(0, 200, 5)), "01": list(range(0, 50, 5))}
    budget = LabelBudget(LabelBudgetConfig("frames", 0.1, seed=0), frames)
    assert budget.every == 10
    assert budget.kept_frames("00") == [0, 50, 100, 150]
    assert budget.kept_frames("01") == [0]
    other_seed = LabelBudget(LabelBudgetConfig("frames", 0.1, seed=3), frames)
    assert other_seed.kept_frames("00") == [35, 85, 135, 185]
    labels = np.full((4, 4, 2), 7, dtype=np.uint8)
    assert (budget.apply("00", 5, labels) == IGNORE).all()
    assert np.array_equal(budget.apply("00", 50, labels), labels)
    assert (budget.apply("00", 3, labels) == IGNORE).all()  # not a labelled frame at all
    assert other_seed.kept_frames("01") == [35]  # position 47 of the 50 frames in order


@pytest.mark.parametrize(("ratio", "kept"), [(0.01, 1), (0.05, 2), (0.2, 8), (0.5, 20), (1.0, 40)])
def test_small_ratios_keep_their_share_of_all_frames(ratio: float, kept: int):
    # Four short sequences of 10 labelled frames (the synthetic experiments): 1 % is one frame,
    # not one per sequence, and every seed keeps the same number of distinct frames.
    frames = {f"0{s}": list(range(0, 50, 5)) for s in range(4)}
    chosen = []
    for seed in range(3):
        budget = LabelBudget(LabelBudgetConfig("frames", ratio, seed=seed), frames)
        picked = [(s, i) for s in frames for i in budget.kept_frames(s)]
        assert len(picked) == kept == budget.manifest()["kept_frame_count"]
        chosen.append(picked)
    assert ratio == 1.0 or chosen[0] != chosen[1]


def test_voxels_mode_is_class_stratified_and_reproducible():
    rng = np.random.default_rng(0)
    labels = rng.choice([0, 0, 0, 0, 9, 9, 13, 18], size=(20, 20, 10)).astype(np.uint8)
    labels[0, 0, 0] = 5  # a class with a single voxel keeps it
    labels[1, :, :] = IGNORE
    budget = LabelBudget(LabelBudgetConfig("voxels", 0.1, seed=1), {"00": [0, 5]})
    kept = budget.apply("00", 0, labels)
    assert np.array_equal(kept, budget.apply("00", 0, labels))
    assert not np.array_equal(kept, budget.apply("00", 5, labels))
    for cls in (0, 9, 13, 18):
        share = np.count_nonzero(kept == cls) / np.count_nonzero(labels == cls)
        assert share == pytest.approx(0.1, abs=0.002)
    assert kept[0, 0, 0] == 5
    assert np.all((kept == IGNORE) | (kept == labels))
    manifest = budget.manifest()
    assert manifest["mode"] == "voxels"
    assert manifest["voxels"]["kept_share"] == pytest.approx(0.1, abs=0.003)


def test_all_mode_and_bad_ratio():
    budget = LabelBudget(LabelBudgetConfig("all", 1.0), {"00": [0]})
    labels = np.arange(8, dtype=np.uint8).reshape(2, 2, 2)
    assert np.array_equal(budget.apply("00", 0, labels), labels)
    with pytest.raises(ValueError, match="ratio"):
        LabelBudgetConfig("frames", 0.0)
