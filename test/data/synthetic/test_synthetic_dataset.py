"""The synthetic world written by `occle synth` is in the official format and self-consistent.

One tiny two-sequence dataset is generated per test session (a few seconds) and checked with the
foundation readers: LiDAR returns fall in ground-truth voxels of their own class, projected LiDAR
labels agree with the rendered 2D labels, `.invalid` shrinks as scans are aggregated, every class
appears, and generation is deterministic by seed.
"""

import hashlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from occle_core.cli.main import main
from occle_core.data.semantickitti import SemanticKittiSequence, load_label_config, write_prediction
from occle_core.data.semantickitti.sequence import dataset_grid
from occle_core.data.synthetic.generate import SequenceWriter, SynthConfig, write_synthetic_dataset
from occle_core.data.synthetic.rig import kitti_like_rig
from occle_core.data.synthetic.visibility import observed_voxels
from occle_core.eval import evaluate_semantickitti
from occle_core.geometry import project_points
from occle_core.io.images import read_depth_image, read_label_image

FRAMES = 12


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synth")
    write_synthetic_dataset(root, ["00", "01"], SynthConfig(frames=FRAMES, seed=7, scale="tiny"))
    return root


def _files(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_layout_is_readable_by_the_semantickitti_readers(dataset):
    sequence = SemanticKittiSequence(dataset, 0)
    assert sequence.grid.shape == (64, 64, 8)  # from occle_dataset.yaml
    assert dataset_grid(dataset) == kitti_like_rig("tiny").grid
    assert sequence.scan_ids == list(range(FRAMES))
    assert sequence.voxel_ids == [0, 5, 10]
    assert sequence.poses.shape == (FRAMES, 4, 4) and sequence.times.shape == (FRAMES,)
    np.testing.assert_allclose(np.diff(sequence.times), 0.1)
    frame = sequence.frame(5)
    assert frame.images[0].shape == (94, 310, 3)
    assert len(frame.points) > 5000
    classes, _ = sequence.point_labels(5, len(frame.points))
    assert set(np.unique(classes)) <= set(range(1, 20))
    truth = sequence.voxel_ground_truth(5)
    assert truth.occluded is not None and truth.scan_occupancy is not None
    for name in ("preview", "synthetic/semantic_2", "synthetic/depth_2"):
        assert len(list((sequence.path / name).glob("*.png"))) == FRAMES


def test_poses_follow_the_kitti_convention(dataset):
    sequence = SemanticKittiSequence(dataset, 0)
    np.testing.assert_allclose(sequence.poses[0], np.eye(4), atol=1e-9)
    steps = np.linalg.norm(np.diff(sequence.poses[:, :3, 3], axis=0), axis=1)
    assert np.all((steps > 0.4) & (steps < 1.2))  # 5..11 m/s at 10 Hz
    # The velodyne moves forward (+x of its own frame) between scans.
    relative = np.linalg.inv(sequence.poses[0]) @ sequence.poses[1]
    assert relative[0, 3] > 0.4 and abs(relative[1, 3]) < 0.1


def _own_class_share(sequence: SemanticKittiSequence, index: int) -> float:
    frame = sequence.frame(index, load_image=False)
    classes, _ = sequence.point_labels(index, len(frame.points))
    voxels, inside = sequence.grid.points_to_indices(frame.xyz)
    raw = np.fromfile(sequence.file("voxels", index, ".label"), dtype=np.uint16)
    truth = load_label_config().to_learning(raw, "gt").reshape(sequence.grid.shape)
    hit = truth[tuple(voxels[inside].T)]
    return float(np.mean(hit == classes[inside]))


def test_lidar_returns_fall_in_ground_truth_voxels_of_their_class(dataset):
    sequence = SemanticKittiSequence(dataset, 0)
    shares = [_own_class_share(sequence, index) for index in sequence.voxel_ids]
    # The tiny grid has 0.8 m voxels: where a kerb meets the road or a car stands on the
    # parking lane one voxel holds both, and only one class can win it. A wrong axis, pose or
    # label mapping would drop this far below (to about the share of the road, ~0.3).
    assert min(shares) > 0.85, shares


@pytest.mark.parametrize("seed", [3, 4])
def test_noise_free_returns_fall_in_occupied_voxels_of_their_class_at_full_scale(tmp_path, seed):
    rig = kitti_like_rig("full")
    # No cameras (not needed here) and an exact LiDAR: every return lies on a surface.
    rig = replace(rig, cameras=(), lidar=replace(rig.lidar, range_noise=0.0, dropout=0.0))
    writer = SequenceWriter(tmp_path, 0, SynthConfig(frames=1, seed=seed, previews=False), rig)
    writer.build_scene()
    scan, _ = writer.simulate_frame(0)
    labels = writer.ground_truth_labels(0)
    voxels, inside = rig.grid.points_to_indices(scan.points[:, :3])
    truth = labels[tuple(voxels[inside].T)]
    assert inside.sum() > 50000
    assert (truth != 0).all()  # conservative rasterisation: no return in an empty voxel
    # 0.2 m voxels: only boundaries (kerb faces, tyres on the road) disagree.
    assert np.mean(truth == scan.labels[inside]) > 0.95


def test_projected_lidar_labels_agree_with_the_2d_labels(dataset):
    sequence = SemanticKittiSequence(dataset, 1)
    agreement = []
    for index in (0, 6, 11):
        frame = sequence.frame(index)
        classes, _ = sequence.point_labels(index, len(frame.points))
        semantic = read_label_image(sequence.path / "synthetic" / "semantic_2" / f"{index:06d}.png")
        depth = read_depth_image(sequence.path / "synthetic" / "depth_2" / f"{index:06d}.png")
        projection = project_points(frame.xyz, frame.cameras, min_depth=1.0)
        valid = projection.valid[0]
        cols, rows = projection.pixels()[0][valid].T
        agreement.append(np.mean(semantic[rows, cols] == classes[valid]))
        # Where the labels agree, the rendered depth matches the LiDAR depth.
        same = semantic[rows, cols] == classes[valid]
        error = np.abs(depth[rows, cols][same] - projection.depth[0][valid][same])
        assert np.median(error) < 0.1
    # The camera sits 0.27 m behind the LiDAR and pixels are 4x coarser at this scale, so
    # edges disagree a little.
    assert min(agreement) > 0.9, agreement


def test_invalid_shrinks_as_more_scans_are_aggregated(tmp_path):
    config = SynthConfig(frames=16, seed=11, previews=False)
    writer = SequenceWriter(tmp_path, 0, config)
    writer.build_scene()
    grid = writer.rig.grid
    views = []
    from occle_core.data.synthetic.visibility import ScanView

    for index in range(config.frames):
        scan, _ = writer.simulate_frame(index)
        views.append(ScanView(writer.lidar_pose(index), scan.range_image))
    pose = writer.lidar_pose(0)
    centers = grid.voxel_centers().reshape(-1, 3).astype(np.float64) @ pose[:3, :3].T + pose[:3, 3]
    margin = float(np.linalg.norm(grid.voxel_size)) / 2
    invalid = [
        int((~observed_voxels(centers, views[:n], writer.rig.lidar, margin)).sum())
        for n in (1, 4, 16)
    ]
    assert invalid[0] > invalid[1] > invalid[2] > 0


def test_every_class_appears_over_a_modest_sequence(dataset):
    present: set[int] = set()
    for number in (0, 1):
        sequence = SemanticKittiSequence(dataset, number)
        for index in sequence.voxel_ids:
            present |= set(np.unique(sequence.voxel_ground_truth(index).labels).tolist())
    assert set(range(1, 20)) <= present, sorted(set(range(1, 20)) - present)


def test_generation_is_deterministic_by_seed(tmp_path):
    config = SynthConfig(frames=3, seed=5, previews=False)
    write_synthetic_dataset(tmp_path / "a", ["02"], config)
    write_synthetic_dataset(tmp_path / "b", ["02"], config)
    write_synthetic_dataset(tmp_path / "c", ["02"], SynthConfig(frames=3, seed=6, previews=False))
    first, second, other = (_files(tmp_path / n) for n in "abc")
    assert first == second
    scan = "sequences/02/velodyne/000000.bin"
    assert first[scan] != other[scan]


def test_ground_truth_scores_perfectly_against_itself(dataset, tmp_path):
    sequence = SemanticKittiSequence(dataset, 0)
    for index in sequence.voxel_ids:
        labels = sequence.voxel_ground_truth(index).labels.copy()
        labels[labels == 255] = 0  # ignored voxels are not scored; any valid class will do
        write_prediction(tmp_path, 0, index, labels)
    scores = evaluate_semantickitti(dataset, tmp_path, [0])
    assert scores.completion_iou == pytest.approx(1.0)
    present = [c for c in range(1, 20) if scores.confusion[c, :].sum() > 0]
    assert all(scores.iou[c] == pytest.approx(1.0) for c in present)


def test_cli_writes_a_dataset_and_rejects_bad_arguments(tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["synth", "--out", str(out), "--frames", "2", "--no-preview"]) == 0
    assert (out / "sequences" / "00" / "voxels" / "000000.label").is_file()
    assert not (out / "sequences" / "00" / "preview").exists()
    assert "sequence 00: 2 frames" in capsys.readouterr().out
    assert main(["synth", "--out", str(tmp_path / "other"), "--frames", "0"]) == 2
    assert "--frames" in capsys.readouterr().err
