"""Temporal lifting: points borrow pseudo labels from the images of neighbouring frames, only
where that frame's LiDAR saw the same surface."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from occle_core.data.semantickitti.sequence import SemanticKittiSequence
from occle_core.data.synthetic.generate import SynthConfig, write_synthetic_dataset
from occle_core.geometry.camera import CameraModel
from occle_core.pseudo.alignment import load_alignment
from occle_core.pseudo.cache import pseudo_points_path, read_point_pseudo_labels
from occle_core.pseudo.generate import SimulatedLabeller, generate_pseudo_labels
from occle_core.pseudo.lifting import IGNORE
from occle_core.pseudo.temporal import (
    LabelledView,
    TemporalLifting,
    surface_depth,
    temporal_point_labels,
)

# Camera frame = reference frame (x right, y down, z forward); 8x6 pixels, f = 10, so a point at
# (x, 0, z) lands on column floor(4 + 10 x / z) of row 3.
CAMERA = CameraModel("cam", np.array([[10.0, 0, 4], [0, 10.0, 3], [0, 0, 1]]), np.eye(4), 8, 6)
STRICT = TemporalLifting(back=5, forward=5, depth_cell=1, tolerance=0.5, relative_tolerance=0.0)


def pose_at(z: float) -> np.ndarray:
    pose = np.eye(4)
    pose[2, 3] = z
    return pose


def view(index: int, z: float, labels: np.ndarray, returns: np.ndarray) -> LabelledView:
    """Frame `index` with its camera at world z, pseudo labels and its own LiDAR returns."""
    return LabelledView(index, pose_at(z), CAMERA, labels, surface_depth(returns, CAMERA, 1))


def test_surface_depth_keeps_the_nearest_return_per_block():
    returns = np.array([[0.0, 0.0, 5.0], [0.0, 0.0, 3.0], [0.1, 0.0, 4.0], [0.0, 0.0, -2.0]])
    depth = surface_depth(returns, CAMERA, 1)
    assert depth.shape == (6, 8)
    assert depth[3, 4] == 3.0 and depth[3, 4 + 1] == np.inf  # (0.1, 0, 4) -> column 4 too
    assert np.isfinite(depth).sum() == 1
    assert surface_depth(returns, CAMERA, 4).shape == (2, 2)


def test_points_outside_their_image_take_labels_from_earlier_frames():
    # Frame 0 at z = 0 saw a wall point at world (1, 0, 3) (column 7) and labelled it 5.
    labels0 = np.full((6, 8), 9, np.uint8)
    labels0[3, 7] = 5
    earlier = view(0, 0.0, labels0, np.array([[1.0, 0.0, 3.0]]))
    now = view(1, 2.0, np.full((6, 8), 2, np.uint8), np.zeros((0, 3)))
    points = np.array(
        [
            [1.0, 0.0, 1.0],  # the wall point, now beside the camera (x / z = 1: not in view)
            [2.0, 0.0, 4.0],  # behind the wall as frame 0 saw it: hidden there
            [-1.0, 0.0, 1.0],  # no return of frame 0 near its pixel: unknown surface
            [0.0, 0.0, 3.0],  # in today's image
        ]
    )
    labels = temporal_point_labels(points, pose_at(2.0), 1, [earlier, now], STRICT, 10)
    assert labels.tolist() == [5, IGNORE, IGNORE, 2]
    own_only = TemporalLifting.own_image_only()
    labels = temporal_point_labels(points, pose_at(2.0), 1, [earlier, now], own_only, 10)
    assert labels.tolist() == [IGNORE, IGNORE, IGNORE, 2]


def test_a_moved_object_does_not_vote_where_the_earlier_frame_saw_background():
    # Frame 0 saw the background 10 m ahead; the point now 3 m ahead of frame 1 (an object that
    # drove in) lands on that background pixel 5 m in front of the surface: no vote.
    earlier = view(0, 0.0, np.full((6, 8), 4, np.uint8), np.array([[0.0, 0.0, 10.0]]))
    labels = temporal_point_labels(
        np.array([[0.0, 0.0, 3.0]]), pose_at(2.0), 1, [earlier], STRICT, 10
    )
    assert labels.tolist() == [IGNORE]
    # Within the tolerance (the relative one here: 10 % of 10.3 m) it votes.
    loose = TemporalLifting(back=5, forward=5, depth_cell=1, tolerance=0.1, relative_tolerance=0.1)
    at_surface = np.array([[0.0, 0.0, 8.3]])  # 10.3 m from frame 0, surface at 10 m
    assert temporal_point_labels(at_surface, pose_at(2.0), 1, [earlier], loose, 10).tolist() == [4]


def test_own_image_outweighs_neighbours_and_window_limits_who_votes():
    point = np.array([[0.0, 0.0, 4.0]])
    returns = np.array([[0.0, 0.0, 4.0]])
    views = [
        view(1, 0.0, np.full((6, 8), 7, np.uint8), returns),  # own frame says 7
        view(0, 0.0, np.full((6, 8), 3, np.uint8), returns),  # two neighbours say 3
        view(2, 0.0, np.full((6, 8), 3, np.uint8), returns),
    ]
    assert temporal_point_labels(point, np.eye(4), 1, views, STRICT, 10).tolist() == [7]
    equal = TemporalLifting(back=5, forward=5, depth_cell=1, own_weight=1)
    assert temporal_point_labels(point, np.eye(4), 1, views, equal, 10).tolist() == [3]
    no_future = TemporalLifting(back=5, forward=0, depth_cell=1, own_weight=1)
    # own 7 and frame 0's 3 tie: the lower class id wins.
    assert temporal_point_labels(point, np.eye(4), 1, views, no_future, 10).tolist() == [3]
    with pytest.raises(ValueError, match="below 5"):
        temporal_point_labels(point, np.eye(4), 1, views, STRICT, 5)


def test_settings_are_checked():
    with pytest.raises(ValueError, match="negative"):
        TemporalLifting(back=-1)
    with pytest.raises(ValueError, match="depth_cell"):
        TemporalLifting(depth_cell=0)
    with pytest.raises(ValueError, match="tolerances"):
        TemporalLifting(tolerance=0.0)


@pytest.fixture(scope="module")
def sequence_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synthetic")
    synth = SynthConfig(frames=12, seed=3, scale="tiny", window_after=4, previews=False)
    write_synthetic_dataset(root, [0], synth)
    return root


def test_window_labels_many_more_points_at_similar_quality(sequence_root: Path):
    labeller = SimulatedLabeller(load_alignment("semantickitti"), None, seed=0)
    own = generate_pseudo_labels(
        sequence_root, ["00"], labeller, lifting=TemporalLifting.own_image_only()
    )[0]
    own_labels = read_point_pseudo_labels(
        pseudo_points_path(SemanticKittiSequence(sequence_root, 0), 11), _points(sequence_root)
    )
    window = generate_pseudo_labels(sequence_root, ["00"], labeller)[0]
    window_labels = read_point_pseudo_labels(
        pseudo_points_path(SemanticKittiSequence(sequence_root, 0), 11), _points(sequence_root)
    )
    assert own.point_coverage is not None and window.point_coverage is not None
    assert own.point_miou is not None and window.point_miou is not None
    assert own.point_coverage < 0.2 and window.point_coverage > 2 * own.point_coverage
    assert window.point_miou > own.point_miou - 0.05
    # Points the own image labelled keep a label (their own image votes 3 times).
    assert np.all(window_labels[own_labels != IGNORE] != IGNORE)
    summary = json.loads((sequence_root / "sequences/00/pseudo_labels/summary.json").read_text())
    assert summary["lifting"]["back"] == 30 and summary["point_coverage"] == window.point_coverage


def _points(root: Path) -> int:
    return len(SemanticKittiSequence(root, 0).frame(11, load_image=False).points)


def test_cli_window_option(sequence_root: Path, capsys: pytest.CaptureFixture[str]):
    from occle_core.cli.main import main

    summary_file = sequence_root / "sequences/00/pseudo_labels/summary.json"
    assert main(["pseudo-label", "--dataset", str(sequence_root), "--window", "0", "0"]) == 0
    summary = json.loads(summary_file.read_text())
    assert summary["lifting"]["back"] == 0 and summary["point_coverage"] < 0.2
    assert "of the labelled points" in capsys.readouterr().out
    assert main(["pseudo-label", "--dataset", str(sequence_root), "--window", "-2", "3"]) == 2
    assert "window -2/3 is negative" in capsys.readouterr().err
