"""The node on a live ROS 2 graph, started as a user starts it (`ros2 launch occle_ros
occle.launch.py`), following /clock (use_sim_time) while a bag written by `occle to-bag` is
played onto the graph (occle_ros.player: `ros2 bag` is not available here).

It receives /tf_static, /tf (odometry, three scans aggregated), PointCloud2, Image and
CameraInfo and must publish, for every frame, a SemanticOccupancy that decodes to what
`occle infer` predicts from the dataset files and to what `occle bag-eval` predicts from the same
bag (one pairing rule, one TF rule), plus markers, the voxel cloud, the timing topics and
/diagnostics.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from live_graph import launched, probe, require_ros_graph, wait_for_state, wait_until

require_ros_graph()

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus  # noqa: E402
from sensor_msgs.msg import PointCloud2  # noqa: E402
from std_msgs.msg import Float64  # noqa: E402
from visualization_msgs.msg import MarkerArray  # noqa: E402

from occle_core.data.semantickitti.sequence import SemanticKittiSequence  # noqa: E402
from occle_core.data.synthetic.generate import SynthConfig, write_synthetic_dataset  # noqa: E402
from occle_core.infer import predict_frames  # noqa: E402
from occle_core.model.build import build_model  # noqa: E402
from occle_core.model.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402
from occle_core.model.config import load_model_config  # noqa: E402
from occle_core.runtime import ModelRunner  # noqa: E402
from occle_ros.bag.messages_of import read_bag_messages  # noqa: E402
from occle_ros.bag.replay import replay_bag  # noqa: E402
from occle_ros.bag.to_bag import write_sequence_bag  # noqa: E402
from occle_ros.conversions.occupancy import message_to_grid  # noqa: E402
from occle_ros.msg import SemanticOccupancy  # noqa: E402
from occle_ros.pipeline.config import NodeConfig  # noqa: E402
from occle_ros.player import BagPlayer  # noqa: E402

FRAMES = 6
CLOUD = "/velodyne_points"


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(dataset root, bag, checkpoint) of a tiny synthetic sequence and a tiny model."""
    root = tmp_path_factory.mktemp("synthetic")
    synth = SynthConfig(frames=FRAMES, seed=11, scale="tiny", window_after=3, previews=False)
    write_synthetic_dataset(root, [0], synth)
    bag = write_sequence_bag(root, "00", tmp_path_factory.mktemp("bags") / "seq00")
    checkpoint = tmp_path_factory.mktemp("model") / "tiny.pt"
    save_checkpoint(checkpoint, build_model(load_model_config("occle_tiny"), seed=4))
    return root, bag, checkpoint


def play_frame_by_frame(player: BagPlayer, occupancy: list, timeout: float = 60.0) -> int:
    """Play the bag at its recorded pace, but hold each cloud until the previous frame's output
    is in: the node then never drops a frame for being busy, so every frame can be compared."""
    clouds: list[int] = []

    def hold(message) -> None:
        if message.topic == CLOUD:
            wait_until(lambda: len(occupancy) >= len(clouds), timeout, f"output {len(clouds)}")
            clouds.append(message.timestamp)

    player.play(rate=1.0, before=hold)
    wait_until(lambda: len(occupancy) >= len(clouds), timeout, "the output of the last frame")
    return len(clouds)


def frames_reported(diagnostics: DiagnosticArray) -> int:
    values = {kv.key: kv.value for kv in diagnostics.status[0].values}
    return int(values["frames"])


def test_node_replays_a_bag_like_infer_and_bag_eval(scene, tmp_path: Path):
    root, bag, checkpoint = scene
    arguments = {"checkpoint": checkpoint, "device": "cpu", "use_sim_time": "true"}
    with (
        probe() as helper,
        launched("occle.launch.py", arguments, tmp_path / "launch.log") as launch,
    ):
        occupancy = helper.collect(SemanticOccupancy, "/occle/output/occupancy")
        markers = helper.collect(MarkerArray, "/occle/output/markers")
        voxels = helper.collect(PointCloud2, "/occle/output/voxels")
        processing = helper.collect(Float64, "/occle/debug/processing_time_ms")
        latency = helper.collect(Float64, "/occle/debug/pipeline_latency_ms")
        diagnostics = helper.collect(DiagnosticArray, "/diagnostics")
        wait_for_state(helper, launch, "active")
        player = BagPlayer(helper.node, bag)
        try:
            for topic in (CLOUD, "/camera/image_2/image_raw", "/camera/image_2/camera_info"):
                helper.wait_for_subscribers(player.publishers[topic])
            played = play_frame_by_frame(player, occupancy)
            # Bag time goes on until the 1 s diagnostics timer (on the node's clock) has reported
            # every frame.
            tick = max(m.timestamp for m in player.messages())
            for _ in range(100):
                if diagnostics and frames_reported(diagnostics[-1]) == FRAMES:
                    break
                tick += 100_000_000
                player.publish_clock(tick)
                time.sleep(0.05)
        finally:
            player.close()
        # Markers and voxel clouds trail the occupancy grid (they are built after it, and a
        # MarkerArray of every voxel is the largest message): on a loaded machine they can take
        # well over the occupancy's time, so the wait is generous and a failure says how many came.
        try:
            wait_until(lambda: len(markers) >= FRAMES and len(voxels) >= FRAMES, 60, "outputs")
        except AssertionError as error:
            raise AssertionError(
                f"{error}: {len(markers)} marker arrays and {len(voxels)} voxel clouds of {FRAMES}"
            ) from None
        log = launch.output()
    assert played == FRAMES and len(occupancy) == FRAMES, log[-3000:]

    sequence = SemanticKittiSequence(root, "00")
    model, _ = load_checkpoint(checkpoint)
    expected = dict(predict_frames(model, sequence, sequence.scan_ids, scans=3))
    offline_out = tmp_path / "bag_eval"
    runner = ModelRunner.from_checkpoint(str(checkpoint), device="cpu")
    report = replay_bag(bag, runner, NodeConfig(), out=offline_out)
    offline = [message_to_grid(m) for m in read_bag_messages(offline_out)["/occle/occupancy"]]
    assert report.frames == FRAMES and report.skipped == 0
    stamps = [round(t * 1e9) for t in 1_700_000_000 + sequence.times[:FRAMES]]
    for index, message in enumerate(occupancy):
        grid = message_to_grid(message)
        stamp = message.header.stamp.sec * 10**9 + message.header.stamp.nanosec
        assert stamp == stamps[index] and message.header.frame_id == "velodyne"
        agreement = (grid.labels == expected[index]).mean()
        assert agreement > 0.999, f"frame {index}: {agreement:.5f} of voxels as occle infer"
        np.testing.assert_array_equal(grid.labels, offline[index].labels)
        assert len(np.unique(grid.labels)) > 1  # a real prediction, not a constant grid

    assert all(m.markers for m in markers[:FRAMES])
    assert all(
        v.width > 0 and [f.name for f in v.fields] == ["x", "y", "z", "label"] for v in voxels
    )
    assert len(processing) >= FRAMES and all(m.data > 0 for m in processing)
    # Latency on bag time: publish time on the node's (simulated) clock minus the cloud stamp.
    assert len(latency) >= FRAMES and all(m.data >= 0 for m in latency)
    status = diagnostics[-1].status[0]
    values = {kv.key: kv.value for kv in status.values}
    assert status.name == "occle: semantic occupancy" and status.level == DiagnosticStatus.OK
    assert int(values["frames"]) == FRAMES and int(values["skipped_frames"]) == 0
    assert int(values["dropped_frames (busy)"]) == 0 and values["device"] == "cpu"
