"""The hostile and careless inputs that once lost work, went silently wrong, ended a replay or
showed a traceback (issue 17), each refused where the value enters, with exit 2 and a line
naming the file, option or field."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from occle_core.cli.main import main
from occle_core.data.semantickitti.sequence import SemanticKittiSequence
from occle_core.data.synthetic.generate import SynthConfig, write_synthetic_dataset
from occle_core.errors import DataFormatError
from occle_core.model.build import build_model
from occle_core.model.checkpoint import load_checkpoint, save_checkpoint
from occle_core.model.config import load_model_config

pytest.importorskip("rosbags", reason="rosbags (dev extra) missing")

#: Overrides of a one-step training run on the fixture's dataset (after `--config`).
TRAIN = [
    "data.train_sequences=['00']",
    "data.val_sequences=[]",
    "data.pseudo_labels=false",
    "data.dense_pseudo=false",
    "max_steps=1",
]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("careless") / "ds"
    write_synthetic_dataset(root, [0], SynthConfig(frames=10, scale="tiny", previews=False))
    return root


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    save_checkpoint(path, build_model(load_model_config("occle_tiny"), seed=0))
    return path


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return next(line for line in err.splitlines() if "error:" in line)


# --- 1. lost work ------------------------------------------------------------------------------
def test_a_run_is_never_overwritten_and_resumes_only_as_itself(dataset, tmp_path, capsys):
    run = tmp_path / "run"
    base = ["train", "--run", str(run), "--config", "occle_tiny_synthetic", f"data.root={dataset}"]
    assert main([*base, *TRAIN]) == 0
    kept = digest(run)
    # Again without --resume: refused, naming --resume; nothing of the run changed.
    assert main([*base, *TRAIN]) == 2
    assert "--resume" in error_line(capsys)
    assert digest(run) == kept
    # --resume that would change what the run learns from: refused, config.yaml as it was.
    assert main(["train", "--run", str(run), "--resume", "budget.ratio=0.5", "optim.lr=0.5"]) == 2
    line = error_line(capsys)
    assert "budget.ratio" in line and "0.1 -> 0.5" in line
    assert digest(run) == kept
    # A change of how long it runs is accepted and recorded; a stale temporary file of an
    # interrupted checkpoint write is removed.
    stale = run / "checkpoints" / ".last.pt.x1y2.tmp"
    stale.write_bytes(b"half a checkpoint")
    assert main(["train", "--run", str(run), "--resume", "max_steps=2"]) == 0
    assert not stale.exists()
    record = json.loads((run / "resumes.jsonl").read_text().splitlines()[-1])
    assert record["changes"] == {"max_steps": {"recorded": 1, "now": 2}}
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(steps) and steps[-1] == 2
    # --force starts over, documented; a file where the run folder belongs is an error.
    assert main([*base, *TRAIN, "--force"]) == 0
    assert not (run / "resumes.jsonl").exists()
    (tmp_path / "a_file").write_text("x")
    assert main(["train", "--run", str(tmp_path / "a_file"), f"data.root={dataset}"]) == 2
    assert "is a file" in error_line(capsys)


def test_synth_never_writes_over_a_dataset(dataset, tmp_path, capsys):
    copy = tmp_path / "ds"
    shutil.copytree(dataset, copy)
    kept = digest(copy)
    assert main(["synth", "--out", str(copy), "--frames", "2", "--no-preview"]) == 2
    assert "not empty" in error_line(capsys)
    assert digest(copy) == kept


# --- 2. silently wrong ---------------------------------------------------------------------------
@pytest.fixture
def short_poses(dataset, tmp_path) -> Path:
    root = tmp_path / "short"
    shutil.copytree(dataset, root)
    poses = root / "sequences" / "00" / "poses.txt"
    poses.write_text("".join(poses.read_text().splitlines(keepends=True)[:5]))
    return root


@pytest.mark.parametrize(
    "command",
    [
        ["infer", "--checkpoint", "{ckpt}", "--dataset", "{root}", "--out", "{tmp}/p"],
        ["to-bag", "--dataset", "{root}", "--sequence", "00", "--out", "{tmp}/b"],
        ["pseudo-label", "--dataset", "{root}", "--sequences", "00"],
        ["kitti-raw", "--dataset", "{root}", "--sequence", "00", "--out", "{tmp}/r"],
    ],
    ids=["infer", "to-bag", "pseudo-label", "kitti-raw"],
)
def test_poses_shorter_than_the_scans_are_an_error_everywhere(
    command, short_poses, checkpoint, tmp_path, capsys
):
    argv = [a.format(ckpt=checkpoint, root=short_poses, tmp=tmp_path) for a in command]
    if command[0] == "infer":
        argv += ["--sequences", "00", "--frame", "8"]  # the frame past the poses
    assert main(argv) == 2
    line = error_line(capsys)
    assert "poses.txt: 5 poses for scans up to 000009" in line


def test_nan_and_empty_poses_and_calibration(dataset, tmp_path):
    root = tmp_path / "bad"
    shutil.copytree(dataset, root)
    poses = root / "sequences" / "00" / "poses.txt"
    lines = poses.read_text().splitlines()
    poses.write_text("\n".join([lines[0].replace(lines[0].split()[3], "nan", 1), *lines[1:]]))
    with pytest.raises(DataFormatError, match="line 1 holds a NaN or infinite value"):
        SemanticKittiSequence(root, "00").poses  # noqa: B018
    poses.write_text("")
    with pytest.raises(DataFormatError, match="empty"):
        SemanticKittiSequence(root, "00").poses  # noqa: B018


def test_non_finite_points_are_dropped_and_counted(dataset, tmp_path):
    root = tmp_path / "nan_points"
    shutil.copytree(dataset, root)
    scan = root / "sequences" / "00" / "velodyne" / "000003.bin"
    points = np.fromfile(scan, np.float32).reshape(-1, 4)
    points[:7, 0] = np.nan
    points[7:10, 2] = np.inf
    points.tofile(scan)
    sequence = SemanticKittiSequence(root, "00")
    frame = sequence.frame(3, load_image=False)
    assert len(frame.points) == len(points) - 10 and np.isfinite(frame.points).all()
    assert sequence.non_finite_points == 10
    labels, _ = sequence.point_labels(3, len(frame.points))  # still aligned with the points
    assert len(labels) == len(frame.points)


def test_an_empty_scan_is_blamed_on_the_scan(dataset, tmp_path):
    root = tmp_path / "empty_scan"
    shutil.copytree(dataset, root)
    (root / "sequences" / "00" / "velodyne" / "000002.bin").write_bytes(b"")
    sequence = SemanticKittiSequence(root, "00")
    with pytest.raises(DataFormatError, match=r"000002\.bin: holds no points"):
        sequence.point_labels(2)


def test_nan_weights_in_a_checkpoint_are_refused(checkpoint, tmp_path):
    payload = torch.load(checkpoint, weights_only=True)
    name = next(k for k, v in payload["model"].items() if v.is_floating_point())
    payload["model"][name] = payload["model"][name].clone().fill_(float("nan"))
    broken = tmp_path / "nan.pt"
    torch.save(payload, broken)
    with pytest.raises(DataFormatError, match=f"weight {name} holds"):
        load_checkpoint(broken)


def test_bag_eval_that_scores_nothing_is_an_error(dataset, checkpoint, tmp_path, capsys):
    from occle_ros.bag.to_bag import write_sequence_bag

    # Frames 1-3 have no voxel ground truth (every 5th frame has).
    bag = write_sequence_bag(dataset, "00", tmp_path / "no_gt", frames=[1, 2, 3])
    argv = ["bag-eval", str(bag), "--checkpoint", str(checkpoint), "--gt", str(dataset)]
    assert main(argv) == 2
    assert "none of its 3 predicted frames matched a ground-truth frame" in error_line(capsys)


# --- 3. one bad message ends nothing -----------------------------------------------------------
def test_an_undecodable_bag_message_is_a_counted_skip(dataset, checkpoint, tmp_path):
    from rosbags.rosbag2 import Reader, Writer

    from occle_core.runtime import ModelRunner
    from occle_ros.bag.replay import replay_bag
    from occle_ros.bag.to_bag import write_sequence_bag
    from occle_ros.messages import typestore
    from occle_ros.pipeline.config import NodeConfig

    good = write_sequence_bag(dataset, "00", tmp_path / "good", frames=[0, 1, 2])
    broken = tmp_path / "broken"
    store = typestore("humble")
    with Reader(good) as reader, Writer(broken, version=8) as writer:
        connections = {
            c.id: writer.add_connection(
                c.topic,
                c.msgtype,
                typestore=store,
                offered_qos_profiles=c.ext.offered_qos_profiles,
            )
            for c in reader.connections
        }
        spoiled = False
        for connection, timestamp, data in reader.messages():
            if connection.topic == "/velodyne_points" and not spoiled:
                data, spoiled = b"\x00\x01\x00\x00" + b"\xff" * 40, True  # not a PointCloud2
            writer.write(connections[connection.id], timestamp, data)
    runner = ModelRunner.from_checkpoint(str(checkpoint), device="cpu")
    report = replay_bag(broken, runner, NodeConfig())
    assert report.bad_messages == {"/velodyne_points": 1}
    assert report.frames == 2  # the other two frames still came out


def png_claiming(width: int, height: int) -> bytes:
    """A small real PNG whose header claims `width` x `height` (its IHDR rewritten)."""
    import struct
    import zlib

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    ihdr = b"IHDR" + struct.pack(">II", width, height) + bytes(data[24:29])
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(ihdr))
    return bytes(data)


def test_a_decompression_bomb_is_refused_before_decoding():
    from occle_ros.conversions.image import compressed_to_array
    from occle_ros.errors import MessageError
    from occle_ros.messages import RosbagsFactory, typestore

    factory = RosbagsFactory(typestore("humble"))
    bomb = factory.new(
        "sensor_msgs/msg/CompressedImage",
        format="png",
        data=np.frombuffer(png_claiming(100_000, 100_000), np.uint8),
    )
    with pytest.raises(MessageError, match="too large to decode"):
        compressed_to_array(bomb, "/cam/compressed")
    claims = factory.new(
        "sensor_msgs/msg/CompressedImage",
        format="png",
        data=np.frombuffer(png_claiming(4000, 3000), np.uint8),
    )
    with pytest.raises(MessageError, match=r"a 4000x3000 image .*CameraInfo's 320x240"):
        compressed_to_array(claims, "/cam/compressed", (320, 240))
    buffer = io.BytesIO()
    from PIL import Image

    Image.new("RGB", (64, 48)).save(buffer, format="PNG")
    fine = factory.new(
        "sensor_msgs/msg/CompressedImage",
        format="png",
        data=np.frombuffer(buffer.getvalue(), np.uint8),
    )
    assert compressed_to_array(fine, "/cam", (64, 48)).shape == (48, 64, 3)


# --- 4. and 5. paths, litter and names ---------------------------------------------------------
def test_a_finished_bag_has_no_partial_name(dataset, tmp_path):
    from occle_ros.bag.to_bag import write_sequence_bag

    bag = write_sequence_bag(dataset, "00", tmp_path / "seq00", frames=[0])
    names = [p.name for p in bag.iterdir()]
    assert "seq00.mcap" in names and not any("partial" in n for n in names)
    assert "partial" not in (bag / "metadata.yaml").read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["seq00"]  # no staging folder left


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ("batch_size=0", "batch_size = 0"),
        ("optim.accumulate=0", "optim.accumulate = 0"),
        ("data.scans=0", "data.scans = 0"),
        ("ema_decay=1.5", "ema_decay = 1.5"),
        ("optim.lr=-1", "optim.lr = -1.0"),
        ("optim.lr=nan", "optim.lr = 'nan'"),
        ("device=cuda", "CUDA is not available"),
    ],
)
def test_training_values_that_cannot_be_right(dataset, tmp_path, capsys, override, named):
    if override == "device=cuda" and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    run = tmp_path / "run"
    argv = ["train", "--run", str(run), "--config", "occle_tiny_synthetic"]
    assert main([*argv, f"data.root={dataset}", *TRAIN, override]) == 2
    assert named in error_line(capsys)
    assert not run.exists()  # refused before anything was written


# --- 6. messages that lead the right way --------------------------------------------------------
def test_a_string_voxel_size_is_named(tmp_path):
    from occle_core.data.semantickitti.sequence import dataset_grid

    (tmp_path / "occle_dataset.yaml").write_text(
        "grid: {origin: [0, 0, 0], voxel_size: [a, 0.2, 0.2], dims: [8, 8, 8]}\n"
    )
    with pytest.raises(DataFormatError, match=r"voxel_size: \('a', 0.2, 0.2\) must be three"):
        dataset_grid(tmp_path)
