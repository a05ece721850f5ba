"""Dense voxel pseudo labels: a window of pseudo-labelled scans voted per voxel, cached as .npz."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from occle_core.data.semantickitti.sequence import SemanticKittiSequence
from occle_core.data.synthetic.generate import SynthConfig, write_synthetic_dataset
from occle_core.errors import DataFormatError
from occle_core.geometry.grid import GridSpec
from occle_core.pseudo.alignment import load_alignment
from occle_core.pseudo.cache import (
    pseudo_points_path,
    pseudo_voxels_path,
    read_point_pseudo_labels,
    read_voxel_pseudo_labels,
    write_voxel_pseudo_labels,
)
from occle_core.pseudo.generate import SimulatedLabeller, generate_pseudo_labels
from occle_core.pseudo.lifting import IGNORE
from occle_core.pseudo.tracks import tracked_class_ids
from occle_core.pseudo.voxels import (
    DensePseudoLabeller,
    VoxelWindow,
    movable_class_ids,
    static_vote_weights,
    vote_grid,
)

GRID = GridSpec(origin=(0.0, 0.0, 0.0), voxel_size=(1.0, 1.0, 1.0), dims=(4, 3, 2))


def test_vote_grid_takes_the_majority_per_voxel():
    points = np.array(
        [
            [0.5, 0.5, 0.5],  # voxel (0, 0, 0): 3, 3, 5 -> 3
            [0.2, 0.1, 0.9],
            [0.7, 0.8, 0.2],
            [3.5, 2.5, 1.5],  # voxel (3, 2, 1): 6 and 2 tie -> 2
            [3.1, 2.9, 1.1],
            [1.5, 1.5, 0.5],  # only an unknown label: stays 255
            [9.0, 0.5, 0.5],  # outside the grid
        ]
    )
    labels = np.array([3, 3, 5, 6, 2, IGNORE, 7], dtype=np.uint8)
    grid = vote_grid(points, labels, GRID, 10)
    assert grid.shape == (4, 3, 2) and grid[0, 0, 0] == 3 and grid[3, 2, 1] == 2
    assert np.count_nonzero(grid != IGNORE) == 2
    with pytest.raises(ValueError, match="beyond 4"):
        vote_grid(points, labels, GRID, 5)
    # A weak majority (2 of 3 points, or a 1-1 tie) is left unknown when more is asked for.
    strict = vote_grid(points, labels, GRID, 10, min_share=0.6)
    assert strict[0, 0, 0] == 3 and strict[3, 2, 1] == IGNORE
    stricter = vote_grid(points, labels, GRID, 10, min_share=0.7)
    assert np.all(stricter == IGNORE)
    assert np.array_equal(vote_grid(points, labels, GRID, 10, min_share=0.5), grid)


def test_weighted_votes_let_a_rare_class_win_the_voxels_it_shares():
    points = np.array([[0.5, 0.5, 0.5]] * 5 + [[1.5, 0.5, 0.5]] * 4)
    # voxel (0, 0, 0): three votes for 2, two for 5; voxel (1, 0, 0): four votes for 2.
    labels = np.array([2, 2, 2, 5, 5, 2, 2, 2, 2], dtype=np.uint8)
    plain = vote_grid(points, labels, GRID, 10)
    assert plain[0, 0, 0] == 2 and plain[1, 0, 0] == 2
    weights = np.ones(10)
    weights[5] = 2.0  # 2 x 2 = 4 beats 3
    weighted = vote_grid(points, labels, GRID, 10, class_weights=weights)
    assert weighted[0, 0, 0] == 5 and weighted[1, 0, 0] == 2  # no vote of 5 there: unchanged
    weights[5] = 1.4  # 2.8 < 3: the majority keeps it
    assert vote_grid(points, labels, GRID, 10, class_weights=weights)[0, 0, 0] == 2
    # min_share judges the winner's own points: 5 holds 2 of 5 (40 %).
    weights[5] = 2.0
    strict = vote_grid(points, labels, GRID, 10, min_share=0.5, class_weights=weights)
    assert strict[0, 0, 0] == IGNORE and strict[1, 0, 0] == 2
    with pytest.raises(ValueError, match="one positive weight per class"):
        vote_grid(points, labels, GRID, 10, class_weights=np.ones(9))
    with pytest.raises(ValueError, match="one positive weight per class"):
        vote_grid(points, labels, GRID, 10, class_weights=np.zeros(10))


def test_static_vote_weights_follow_the_class_shares():
    # Shares 0, 0.50, 0.25, 0.16, 0.08, 0.01: median of the five that occur is 0.16.
    counts = np.array([0, 5000, 2500, 1600, 800, 100])
    weights = static_vote_weights(counts, balanced=[1, 2, 4, 5], exponent=0.5)
    expected = [1.0, 1.0, 1.0, 1.0, (0.16 / 0.08) ** 0.5, (0.16 / 0.01) ** 0.5]
    np.testing.assert_allclose(weights, expected)  # common classes never fall below 1
    assert weights[3] == 1.0  # 3 (a movable class here) is not balanced
    np.testing.assert_allclose(static_vote_weights(counts, [5], 1.0, limit=10.0)[5], 10.0)
    np.testing.assert_array_equal(static_vote_weights(counts, [5], 0.0), np.ones(6))
    np.testing.assert_array_equal(static_vote_weights(np.zeros(6), [5], 0.5), np.ones(6))
    with pytest.raises(ValueError, match=r"vote_balance must be in \[0, 2\], got -0.5"):
        VoxelWindow(vote_balance=-0.5)


def test_voxel_cache_round_trip_and_errors(tmp_path: Path):
    labels = np.full((4, 3, 2), IGNORE, np.uint8)
    labels[1, 2, 0] = 9
    path = tmp_path / "voxels" / "000005.npz"
    write_voxel_pseudo_labels(path, labels)
    np.testing.assert_array_equal(read_voxel_pseudo_labels(path, (4, 3, 2)), labels)
    assert [p.name for p in path.parent.iterdir()] == ["000005.npz"]  # no temporary left
    with pytest.raises(DataFormatError, match=r"000005\.npz.*shape \(4, 3, 2\).*\(8, 8, 8\)"):
        read_voxel_pseudo_labels(path, (8, 8, 8))
    with pytest.raises(DataFormatError, match="run `occle pseudo-label` again"):
        read_voxel_pseudo_labels(tmp_path / "absent.npz", (4, 3, 2))
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DataFormatError, match=r"broken\.npz.*unreadable"):
        read_voxel_pseudo_labels(broken, (4, 3, 2))
    np.savez(tmp_path / "other.npz", semantics=labels)
    with pytest.raises(DataFormatError, match="an array 'labels'"):
        read_voxel_pseudo_labels(tmp_path / "other.npz", (4, 3, 2))
    with pytest.raises(ValueError, match="negative"):
        VoxelWindow(back=-1)


@pytest.fixture(scope="module")
def labelled_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synthetic")
    synth = SynthConfig(frames=15, seed=4, scale="tiny", window_after=4, previews=False)
    write_synthetic_dataset(root, [0], synth)
    labeller = SimulatedLabeller(load_alignment("semantickitti"), None, seed=0)
    generate_pseudo_labels(root, ["00"], labeller, voxel_window=VoxelWindow(5, 5))
    return root


def test_window_fills_voxels_the_key_scan_misses(labelled_root: Path):
    sequence = SemanticKittiSequence(labelled_root, 0)
    index = sequence.voxel_ids[1]
    num_classes = len(sequence.labels.class_names)
    key_scan_only = DensePseudoLabeller(sequence, VoxelWindow(0, 0), num_classes)(index)
    movable = movable_class_ids(sequence.labels.class_names)
    window = DensePseudoLabeller(sequence, VoxelWindow(5, 5), num_classes, movable=movable)(index)
    truth = sequence.voxel_ground_truth(index).labels
    solid = (truth != 0) & (truth != IGNORE)
    covered_key = np.count_nonzero(solid & (key_scan_only != IGNORE) & (key_scan_only != 0))
    labelled = solid & (window != IGNORE) & (window != 0)
    assert np.count_nonzero(labelled) > 1.5 * covered_key
    # On the ground truth's occupied voxels the window's labels are mostly right.
    assert np.mean(window[labelled] == truth[labelled]) > 0.5
    # The cache written by generate_pseudo_labels is that same grid.
    cached = read_voxel_pseudo_labels(pseudo_voxels_path(sequence, index), truth.shape)
    np.testing.assert_array_equal(cached, window)


def test_free_space_of_the_window_is_marked_empty(labelled_root: Path):
    """Voxels the window's beams crossed without a return become the empty class (0); they are
    truly empty almost everywhere, and switching it off leaves exactly the voted voxels."""
    sequence = SemanticKittiSequence(labelled_root, 0)
    index = sequence.voxel_ids[1]
    num_classes = len(sequence.labels.class_names)
    with_empty = DensePseudoLabeller(sequence, VoxelWindow(5, 5), num_classes)(index)
    voted_only = DensePseudoLabeller(sequence, VoxelWindow(5, 5, empty=False), num_classes)(index)
    truth = sequence.voxel_ground_truth(index).labels
    empty = with_empty == 0
    assert not (voted_only == 0).any()  # the vote never says "empty"
    assert empty.mean() > 0.1  # measured: 14.5 % of the grid (the rest is unseen or solid)
    np.testing.assert_array_equal(with_empty[~empty], voted_only[~empty])  # occupied wins
    judged = empty & (truth != IGNORE)
    assert np.mean(truth[judged] == 0) > 0.95
    with pytest.raises(ValueError, match="max_rays"):
        VoxelWindow(max_rays=0)


def test_min_agreement_keeps_only_the_voxels_the_window_agrees_on(labelled_root: Path):
    sequence = SemanticKittiSequence(labelled_root, 0)
    index = sequence.voxel_ids[1]
    num_classes = len(sequence.labels.class_names)
    every = DensePseudoLabeller(sequence, VoxelWindow(5, 5), num_classes)(index)
    agreed = DensePseudoLabeller(sequence, VoxelWindow(5, 5, min_agreement=0.8), num_classes)(index)
    voted, kept = (every != IGNORE) & (every != 0), (agreed != IGNORE) & (agreed != 0)
    assert not np.any(kept & ~voted)  # it only ever drops voxels...
    np.testing.assert_array_equal(agreed[kept], every[kept])  # ...and keeps their label
    assert 0 < np.count_nonzero(kept) < np.count_nonzero(voted)
    # The dropped ones are the contested ones: fewer of them carry the true class.
    truth = sequence.voxel_ground_truth(index).labels
    dropped = voted & ~kept & (agreed != 0)
    assert np.mean(every[kept] == truth[kept]) > np.mean(every[dropped] == truth[dropped])
    with pytest.raises(ValueError, match="min_agreement must be in"):
        VoxelWindow(min_agreement=1.5)


def test_movable_classes_vote_only_from_the_scans_near_the_key_frame(labelled_root: Path):
    sequence = SemanticKittiSequence(labelled_root, 0)
    index = sequence.voxel_ids[1]
    names = sequence.labels.class_names
    movable = movable_class_ids(names)
    assert [names[i] for i in movable] == [
        *("car", "bicycle", "motorcycle", "truck", "other-vehicle", "person", "bicyclist"),
        "motorcyclist",
    ]

    def grid(reach: int | None) -> np.ndarray:
        window = VoxelWindow(5, 5, movable_reach=reach, carve_trails=None)
        return DensePseudoLabeller(sequence, window, len(names), movable=movable)(index)

    trails, key_only = grid(None), grid(0)
    # With reach 0 every movable voxel holds a key-scan point of that class...
    frame = sequence.frame(index, load_image=False)
    labels = read_point_pseudo_labels(pseudo_points_path(sequence, index), len(frame.points))
    cells, inside = sequence.grid.points_to_indices(frame.points[:, :3])
    key_votes = np.zeros((*key_only.shape, len(names)), dtype=bool)
    keep = inside & np.isin(labels, movable)
    key_votes[(*cells[keep].T, labels[keep])] = True
    voted_movable = np.isin(key_only, movable)
    assert voted_movable.any()
    x, y, z = np.nonzero(voted_movable)
    assert key_votes[x, y, z, key_only[voted_movable]].all()
    # ...while the whole window's votes label more of them (the objects' other surfaces and
    # trails); a reach covering the window changes nothing.
    assert np.count_nonzero(np.isin(trails, movable)) > np.count_nonzero(voted_movable)
    np.testing.assert_array_equal(grid(10), trails)
    with pytest.raises(ValueError, match="movable_reach must be >= 0"):
        VoxelWindow(movable_reach=-1)


def test_followed_people_are_voted_where_they_are_at_the_key_frame(labelled_root: Path):
    sequence = SemanticKittiSequence(labelled_root, 0)
    names = sequence.labels.class_names
    tracked = tracked_class_ids(names)

    def counts(follow: bool) -> tuple[int, int, int]:
        """Tracked-class voxels over the key frames: labelled, right, empty in the truth."""
        window = VoxelWindow(5, 5, follow_people=follow, carve_trails=None)
        labeller = DensePseudoLabeller(
            sequence, window, len(names), movable=movable_class_ids(names), tracked=tracked
        )
        labelled = right = empty = 0
        for index in sequence.voxel_ids:
            grid, truth = labeller(index), sequence.voxel_ground_truth(index).labels
            people = np.isin(grid, tracked)
            labelled += int(np.count_nonzero(people))
            right += int(np.count_nonzero(people & (grid == truth)))
            empty += int(np.count_nonzero(people & (truth == 0)))
        return labelled, right, empty

    (trail, trail_right, trail_empty), (followed, followed_right, followed_empty) = (
        counts(False),
        counts(True),
    )
    # The trails go: fewer person / rider voxels, far fewer of them empty in the truth, and a
    # larger share of them right (measured: 213 -> 111 voxels, 50 -> 29 empty, 29 -> 52 % right).
    assert 0 < followed < trail and followed_empty < 0.7 * trail_empty
    assert followed_right / followed > 1.3 * trail_right / trail
    # Without the followed classes in the label set nothing is followed: the default grid.
    plain = DensePseudoLabeller(sequence, VoxelWindow(5, 5, follow_people=True), len(names))
    index = sequence.voxel_ids[0]
    np.testing.assert_array_equal(
        plain(index), DensePseudoLabeller(sequence, VoxelWindow(5, 5), len(names))(index)
    )


def test_carved_trails_are_movable_voxels_the_key_scan_saw_empty(labelled_root: Path):
    sequence = SemanticKittiSequence(labelled_root, 0)
    names = sequence.labels.class_names
    movable = movable_class_ids(names)

    def labeller(carve: int | None) -> DensePseudoLabeller:
        window = VoxelWindow(5, 5, carve_trails=carve)
        return DensePseudoLabeller(sequence, window, len(names), movable=movable)

    plain, carved = labeller(None), labeller(0)
    changed = changed_empty = movable_before = empty_before = empty_after = 0
    for index in sequence.voxel_ids:
        before, after = plain(index), carved(index)
        truth = sequence.voxel_ground_truth(index).labels
        diff = before != after
        # Only movable voxels change, and only to the empty class; the rest is the plain grid.
        assert np.isin(before[diff], movable).all() and (after[diff] == 0).all()
        changed += int(np.count_nonzero(diff))
        changed_empty += int(np.count_nonzero(diff & (truth == 0)))
        movable_before += int(np.count_nonzero(np.isin(before, movable)))
        empty_before += int(np.count_nonzero(np.isin(before, movable) & (truth == 0)))
        empty_after += int(np.count_nonzero(np.isin(after, movable) & (truth == 0)))
    # What is carved is trails far more often than the movable voxels are (measured: 63 % of
    # the 220 carved voxels are empty in the truth, 23 % of the 1017 movable ones), and the
    # movable voxels that are truly empty fall by more than half (235 -> 97).
    assert changed > 0 and changed_empty / changed > 2 * empty_before / movable_before
    assert empty_after < 0.5 * empty_before
    # A reach covering the whole window carves nothing: every voted voxel holds a return of
    # one of its scans, so none of them is free.
    index = sequence.voxel_ids[1]
    np.testing.assert_array_equal(labeller(10)(index), plain(index))
    with pytest.raises(ValueError, match="carve_trails must be >= 0"):
        VoxelWindow(carve_trails=-1)


def test_vote_balance_moves_only_voxels_to_rarer_static_classes(labelled_root: Path):
    sequence = SemanticKittiSequence(labelled_root, 0)
    names = sequence.labels.class_names
    movable = movable_class_ids(names)
    plain = DensePseudoLabeller(
        sequence, VoxelWindow(5, 5, vote_balance=0), len(names), movable=movable
    )
    balanced = DensePseudoLabeller(
        sequence, VoxelWindow(5, 5, vote_balance=0.5), len(names), movable=movable
    )
    weights = balanced.vote_weights
    assert plain.vote_weights is None and weights is not None
    assert (weights[list(movable)] == 1.0).all() and weights[0] == 1.0
    assert (weights > 1.0).any()  # some static class is rarer than the median
    changed = 0
    for index in sequence.voxel_ids:
        before, after = plain(index), balanced(index)
        diff = before != after
        changed += int(np.count_nonzero(diff))
        # A voxel only ever goes to a class whose votes weigh more than the old winner's.
        assert (weights[after[diff]] > weights[before[diff]]).all()
        assert not np.isin(after[diff], movable).any()
    assert changed > 0


def test_cli_passes_follow_people_to_the_voxel_window():
    from occle_core.cli.main import build_parser

    args = build_parser().parse_args(["pseudo-label", "--dataset", "d", "--voxel-follow-people"])
    assert args.voxel_follow_people is True
    assert (
        build_parser().parse_args(["pseudo-label", "--dataset", "d"]).voxel_follow_people is False
    )
    carve = ["pseudo-label", "--dataset", "d", "--voxel-carve-trails"]
    assert build_parser().parse_args([*carve, "2"]).voxel_carve_trails == 2
    assert build_parser().parse_args([*carve, "off"]).voxel_carve_trails is None
    balance = ["pseudo-label", "--dataset", "d", "--voxel-vote-balance", "0.5"]
    assert build_parser().parse_args(balance).voxel_vote_balance == 0.5


def test_cli_rejects_a_carve_reach_that_is_not_a_count(capsys):
    from occle_core.cli.main import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["pseudo-label", "--dataset", "d", "--voxel-carve-trails", "x"])
    assert "expected a number of scans or 'off', got 'x'" in capsys.readouterr().err


def test_cli_rejects_an_agreement_outside_zero_one(labelled_root: Path, capsys):
    from occle_core.cli.main import main

    args = ["pseudo-label", "--dataset", str(labelled_root), "--sequences", "0"]
    assert main([*args, "--voxel-min-agreement", "1.5"]) == 2
    assert "min_agreement must be in [0, 1], got 1.5" in capsys.readouterr().err
    assert main([*args, "--voxel-movable-reach", "-2"]) == 2
    assert "movable_reach must be >= 0 or None, got -2" in capsys.readouterr().err


def test_summary_reports_dense_voxel_quality(labelled_root: Path):
    sequence = SemanticKittiSequence(labelled_root, 0)
    summary = json.loads((sequence.path / "pseudo_labels" / "summary.json").read_text())
    assert summary["voxel_window"] == {
        "back": 5,
        "forward": 5,
        "empty": True,
        "max_rays": 200_000,
        "min_agreement": 0.0,
        "movable_reach": None,
        "follow_people": False,
        "carve_trails": 0,
        "vote_balance": 0.0,
    }
    assert summary["voxel_frames"] == len(sequence.voxel_ids) == 3
    assert 0.2 < summary["voxel_miou"] < 0.9 and 0.3 < summary["voxel_coverage"] < 1.0
    # Carved trails are empty voxels too, and about a third of them are not (measured 0.950
    # with them; the beams' free space alone is above 0.95, test above).
    assert summary["voxel_empty_precision"] > 0.93
    for index in sequence.voxel_ids:
        assert pseudo_voxels_path(sequence, index).exists()
