"""Bag tools end to end on a synthetic sequence: `occle to-bag` writes a real rosbag2 (mcap and
sqlite3), `occle bag-eval` replays it through the node's pipeline and must predict exactly
what `occle infer` predicts from the dataset files, score it against the ground truth, and
write an mcap of the outputs that decodes back to the same grids."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rosbags", reason="rosbags (dev extra) missing")

from occle_core.cli.main import main
from occle_core.data.semantickitti.sequence import SemanticKittiSequence
from occle_core.data.synthetic.generate import SynthConfig, write_synthetic_dataset
from occle_core.errors import DataFormatError
from occle_core.infer import predict_frames
from occle_core.model.build import build_model
from occle_core.model.checkpoint import load_checkpoint, save_checkpoint
from occle_core.model.config import load_model_config
from occle_core.runtime import ModelRunner
from occle_ros.bag.messages_of import read_bag_messages
from occle_ros.bag.replay import replay_bag
from occle_ros.bag.to_bag import write_sequence_bag
from occle_ros.bag.topic_selection import TopicChoice
from occle_ros.conversions.occupancy import message_to_grid
from occle_ros.messages import typestore
from occle_ros.pipeline.config import NodeConfig, load_node_config, shipped_node_params

FRAMES = 8


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synthetic")
    synth = SynthConfig(frames=FRAMES, seed=3, scale="tiny", window_after=3, previews=False)
    write_synthetic_dataset(root, [0], synth)
    return root


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = build_model(load_model_config("occle_tiny"), seed=5)
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    save_checkpoint(path, model)
    return path


@pytest.fixture(scope="module")
def bag(dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bags") / "seq00"
    return write_sequence_bag(dataset, "00", out, storage="mcap")


def test_to_bag_writes_every_sensor_topic_at_the_dataset_stamps(bag: Path, dataset: Path):
    topics = read_bag_messages(bag)
    sequence = SemanticKittiSequence(dataset, "00")
    assert len(topics["/velodyne_points"]) == FRAMES
    assert len(topics["/camera/image_2/image_raw"]) == FRAMES
    assert len(topics["/camera/image_2/camera_info"]) == FRAMES
    assert len(topics["/tf"]) == FRAMES and len(topics["/tf_static"]) == 1
    stamps = [
        m.header.stamp.sec * 10**9 + m.header.stamp.nanosec for m in topics["/velodyne_points"]
    ]
    expected = 1_700_000_000 * 10**9 + np.round(sequence.times * 1e9).astype(np.int64)
    np.testing.assert_array_equal(stamps, expected[:FRAMES])
    static = topics["/tf_static"][0].transforms[0]
    assert (static.header.frame_id, static.child_frame_id) == ("velodyne", "image_2_optical")
    assert json.loads(topics["/occle/source"][0].data)["sequence"] == "00"


def test_replay_predicts_what_infer_predicts_and_scores_it(
    bag: Path, dataset: Path, checkpoint: Path, tmp_path: Path
):
    runner = ModelRunner.from_checkpoint(str(checkpoint), device="cpu")
    out = tmp_path / "outputs"
    report = replay_bag(bag, runner, NodeConfig(), gt_root=dataset, out=out)
    assert report.frames == FRAMES and report.skipped == 0 and report.unsynced == 0
    assert set(report.latency) == {"convert", "inference", "encode", "processing"}
    # The same model through the dataset path, with the same 3-scan aggregation.
    model, _ = load_checkpoint(checkpoint)
    sequence = SemanticKittiSequence(dataset, "00")
    expected = dict(predict_frames(model, sequence, sequence.scan_ids, scans=3))
    replayed = read_bag_messages(out)["/occle/occupancy"]
    assert len(replayed) == FRAMES
    for index, message in enumerate(replayed):
        grid = message_to_grid(message)
        agreement = (grid.labels == expected[index]).mean()
        assert agreement > 0.999, f"frame {index}: {agreement:.5f} of voxels agree"
    # Scores: the frames with voxel ground truth, through the official metric.
    assert report.scored_frames == sequence.voxel_ids
    assert report.scores is not None and report.scores.num_frames == len(sequence.voxel_ids)


def test_replay_of_sqlite3_compressed_bag_and_cli(
    dataset: Path, checkpoint: Path, tmp_path: Path, capsys
):
    bag = tmp_path / "compressed"
    assert (
        main(
            [
                "to-bag",
                "--dataset",
                str(dataset),
                "--sequence",
                "00",
                "--out",
                str(bag),
                "--storage",
                "sqlite3",
                "--compressed",
                "--frames",
                "0",
                "1",
                "2",
                "3",
            ]
        )
        == 0
    )
    assert (bag / "metadata.yaml").exists() and list(bag.glob("*.db3"))
    report_file = tmp_path / "report.json"
    code = main(
        [
            "bag-eval",
            str(bag),
            "--checkpoint",
            str(checkpoint),
            "--device",
            "cpu",
            "--json",
            str(report_file),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "4 frames in" in printed and "frames/s" in printed and "inference" in printed
    report = json.loads(report_file.read_text())
    assert report["frames"] == 4 and report["skipped"] == 0


def test_replay_skips_a_frame_without_extrinsics_and_keeps_going(
    bag: Path, checkpoint: Path, tmp_path: Path
):
    """A bag without /tf_static: the camera extrinsic comes from the fallback parameter, and
    without it every set is skipped with a logged reason instead of stopping the replay."""
    from rosbags.highlevel import AnyReader
    from rosbags.rosbag2 import StoragePlugin, Writer

    stripped = tmp_path / "no_static"
    with (
        AnyReader([bag]) as reader,
        Writer(stripped, version=8, storage_plugin=StoragePlugin.MCAP) as writer,
    ):
        connections = {}
        for c in reader.connections:
            if c.topic != "/tf_static":
                connections[c.id] = writer.add_connection(
                    c.topic, c.msgtype, typestore=typestore("humble")
                )
        for c, t, data in reader.messages():
            if c.id in connections:
                writer.write(connections[c.id], t, data)
    runner = ModelRunner.from_checkpoint(str(checkpoint), device="cpu")
    report = replay_bag(stripped, runner, NodeConfig())
    assert report.frames == 0 and report.skipped == FRAMES
    # With the extrinsic as a parameter (what the static transform carried), it runs again.
    camera = SemanticKittiSequence(bag_dataset(bag), "00").frame(0).cameras[0]
    tf = dataclasses.replace(NodeConfig().tf, cam_from_lidar=tuple(camera.cam_from_ref.ravel()))
    report = replay_bag(stripped, runner, dataclasses.replace(NodeConfig(), tf=tf))
    assert report.frames == FRAMES and report.skipped == 0


def bag_dataset(bag: Path) -> Path:
    """The dataset a bag was written from (named in its /occle/source message)."""
    return Path(json.loads(read_bag_messages(bag)["/occle/source"][0].data)["dataset"])


def test_shipped_parameter_file_is_the_default_configuration():
    assert load_node_config(shipped_node_params()) == NodeConfig()
    assert dataclasses.asdict(NodeConfig())["input"]["scans"] == 3


def test_corrupted_and_incomplete_bags_give_clear_errors(
    bag: Path, checkpoint: Path, tmp_path, capsys
):
    corrupted = tmp_path / "corrupted.mcap"
    mcap = next(bag.glob("*.mcap"))
    corrupted.write_bytes(mcap.read_bytes()[: mcap.stat().st_size // 3])
    code = main(["bag-eval", str(corrupted), "--checkpoint", str(checkpoint), "--device", "cpu"])
    assert code == 2
    assert "corrupted.mcap: not a readable rosbag2" in capsys.readouterr().err
    runner = ModelRunner.from_checkpoint(str(checkpoint), device="cpu")
    with pytest.raises(DataFormatError, match=r"no camera info topic '/nowhere'"):
        replay_bag(bag, runner, NodeConfig(), topics=TopicChoice(camera_infos=["/nowhere"]))


def test_bag_eval_with_mirror_occupancy_publishes_the_mirrored_decision(
    bag: Path, dataset: Path, tmp_path: Path
):
    import torch

    from occle_core.geometry.aggregate import aggregated_frame

    sequence = SemanticKittiSequence(dataset, "00")
    frame = aggregated_frame(sequence, 2, 3)
    model = build_model(load_model_config("occle_tiny"), seed=5)
    empty = model.config.empty_label
    with torch.no_grad():
        # An untrained head calls (almost) every voxel the same; centre the empty class's bias
        # on its median margin so that the plain and the mirrored decisions can differ.
        logits = (
            ModelRunner(model, torch.device("cpu"))
            .forward(ModelRunner(model, torch.device("cpu")).prepare(frame))
            .logits
        )
        others = torch.cat([logits[:, :empty], logits[:, empty + 1 :]], dim=1).amax(dim=1)
        model.head.classify.bias[empty] -= (logits[:, empty] - others).median()
    checkpoint = tmp_path / "centred.pt"
    save_checkpoint(checkpoint, model)
    params = tmp_path / "mirror.yaml"
    params.write_text(
        shipped_node_params()
        .read_text()
        .replace("mirror_occupancy: false", "mirror_occupancy: true")
    )
    assert load_node_config(params).model.mirror_occupancy
    out = tmp_path / "outputs"
    argv = ["bag-eval", str(bag), "--checkpoint", str(checkpoint), "--device", "cpu"]
    assert main([*argv, "--params", str(params), "--out", str(out)]) == 0
    published = message_to_grid(read_bag_messages(out)["/occle/occupancy"][2]).labels
    mirrored = ModelRunner.from_checkpoint(str(checkpoint), device="cpu", mirror_occupancy=True)
    plain = ModelRunner.from_checkpoint(str(checkpoint), device="cpu")
    expected, plain_labels = mirrored.predict(frame).labels, plain.predict(frame).labels
    assert (expected != plain_labels).any()
    assert (published == expected).mean() > 0.999
