"""Checked against a producer we did not write: the synthetic world written in the KITTI raw
layout, converted by `kitti2mcap` (PyPI, optional), replays through `occle bag-eval` and
predicts what `occle infer` predicts from the original files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rosbags", reason="rosbags (dev extra) missing")
kitti2mcap_cli = pytest.importorskip(
    "kitti2mcap.cli", reason="kitti2mcap missing (pip install 'occle[kitti-raw]')"
)

from occle_core.cli.main import main  # noqa: E402
from occle_core.data.kitti_raw.oxts import (  # noqa: E402
    euler_zyx_to_rotation,
    oxts_to_poses,
    poses_to_oxts,
)
from occle_core.data.semantickitti.sequence import SemanticKittiSequence  # noqa: E402
from occle_core.data.synthetic.generate import SynthConfig, write_synthetic_dataset  # noqa: E402
from occle_core.infer import predict_frames  # noqa: E402
from occle_core.model.build import build_model  # noqa: E402
from occle_core.model.config import load_model_config  # noqa: E402
from occle_core.runtime import ModelRunner  # noqa: E402
from occle_ros.bag.replay import replay_bag  # noqa: E402
from occle_ros.pipeline.config import load_node_config  # noqa: E402

FRAMES = 6


def test_oxts_packets_round_trip_poses():
    rng = np.random.default_rng(0)
    poses = []
    for i in range(5):
        yaw, pitch, roll = rng.uniform(-3, 3), rng.uniform(-0.2, 0.2), rng.uniform(-0.2, 0.2)
        pose = np.eye(4)
        pose[:3, :3] = euler_zyx_to_rotation(roll, pitch, yaw)
        pose[:3, 3] = (10.0 * i, -3.0 * i, 0.5 * i)
        poses.append(pose)
    back = oxts_to_poses(poses_to_oxts(np.stack(poses)))
    relative = np.stack(poses).copy()
    relative[:, :3, 3] -= poses[0][:3, 3]
    np.testing.assert_allclose(back, relative, atol=1e-6)


def test_kitti2mcap_bag_replays_like_infer(tmp_path: Path):
    root = tmp_path / "synthetic"
    write_synthetic_dataset(
        root, [0], SynthConfig(frames=FRAMES, seed=4, scale="tiny", window_after=3, previews=False)
    )
    raw = ["kitti-raw", "--dataset", str(root), "--sequence", "00", "--out", str(tmp_path / "raw")]
    assert main(raw) == 0
    bag = tmp_path / "drive.mcap"
    arguments = ["--date", "2011_09_26", "--drive", "0001", "--kitti-dir", str(tmp_path / "raw")]
    assert kitti2mcap_cli.main([*arguments, "--output", str(bag)]) == 0
    # kitti2mcap's tree is map -> base_link -> {velodyne, camera_color_left}.
    params = tmp_path / "params.yaml"
    params.write_text("occle:\n  ros__parameters:\n    tf:\n      fixed_frame: map\n")
    config = load_node_config(params)
    model = build_model(load_model_config("occle_tiny"), seed=2)
    runner = ModelRunner(model, __import__("torch").device("cpu"))
    report = replay_bag(bag, runner, config, out=tmp_path / "out")
    assert report.frames == FRAMES and report.skipped == 0
    from occle_ros.bag.messages_of import read_bag_messages
    from occle_ros.conversions.occupancy import message_to_grid

    messages = read_bag_messages(tmp_path / "out", ["/occle/occupancy"])["/occle/occupancy"]
    outputs = [message_to_grid(message) for message in messages]
    sequence = SemanticKittiSequence(root, "00")
    expected = dict(predict_frames(model, sequence, sequence.scan_ids, scans=3))
    for index, grid in enumerate(outputs):
        agreement = (grid.labels == expected[index]).mean()
        assert agreement > 0.999, f"frame {index}: {agreement:.5f} of voxels agree"
