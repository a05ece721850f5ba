"""The node for a nuScenes-like rig on a live ROS 2 graph: `ros2 launch occle_ros
occle_nuscenes.launch.py` with the shipped nuScenes parameters (six CompressedImage + CameraInfo
pairs, the LiDAR sweeps between key frames aggregated through the map -> base_link odometry,
cameras placed at their own stamps), following /clock while a surround scene written by
`occle to-bag --layout occ3d` is played. Every key frame must come out as `occle bag-eval`
predicts it from the same bag and as `occle infer --layout occ3d --sweeps 4` predicts it from the
files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from live_graph import launched, probe, require_ros_graph, wait_for_state, wait_until

require_ros_graph()

from occle_core.cli.main import main  # noqa: E402
from occle_core.data.nuscenes.scene import open_occ3d_scenes  # noqa: E402
from occle_core.data.synthetic.surround import INFO_FILE  # noqa: E402
from occle_core.infer import predict_frames  # noqa: E402
from occle_core.model.build import build_model  # noqa: E402
from occle_core.model.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402
from occle_core.model.config import load_model_config  # noqa: E402
from occle_core.runtime import ModelRunner  # noqa: E402
from occle_ros.bag.messages_of import read_bag_messages  # noqa: E402
from occle_ros.bag.occ3d_bag import write_occ3d_scene_bag  # noqa: E402
from occle_ros.bag.replay import replay_bag  # noqa: E402
from occle_ros.conversions.occupancy import message_to_grid  # noqa: E402
from occle_ros.messages import stamp_to_ns, typestore  # noqa: E402
from occle_ros.msg import SemanticOccupancy  # noqa: E402
from occle_ros.pipeline.config import load_node_config  # noqa: E402
from occle_ros.player import BagPlayer  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SCENE = "scene-0001"
SCANS = 11  # key frames 0, 5, 10 and the sweeps between them
KEYS = 3
CLOUD = "/LIDAR_TOP"


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path, Path]:
    """(dataset root, bag, tiny Occ3D checkpoint, node parameter file)."""
    root = tmp_path_factory.mktemp("surround")
    args = ["synth", "--layout", "occ3d", "--out", str(root), "--sequences", "1"]
    assert main([*args, "--frames", str(SCANS), "--seed", "6", "--no-preview"]) == 0
    bag = write_occ3d_scene_bag(root, INFO_FILE, SCENE, tmp_path_factory.mktemp("bags") / SCENE)
    checkpoint = tmp_path_factory.mktemp("model") / "occ3d_tiny.pt"
    save_checkpoint(checkpoint, build_model(load_model_config("occle_occ3d_tiny"), seed=9))
    # The shipped parameters, with the tiny model's configuration instead of the full one.
    params = yaml.safe_load((REPO / "config" / "occle_nuscenes.yaml").read_text())
    params["occle"]["ros__parameters"]["model"]["config"] = "occle_occ3d_tiny"
    params_file = tmp_path_factory.mktemp("params") / "occle_nuscenes_tiny.yaml"
    params_file.write_text(yaml.safe_dump(params))
    return root, bag, checkpoint, params_file


def stamp_of(message) -> int:
    """Header stamp of a recorded message (its CDR bytes)."""
    return stamp_to_ns(
        typestore("humble").deserialize_cdr(message.data, message.msgtype).header.stamp
    )


def test_six_cameras_and_sweeps_on_bag_time(scene, tmp_path: Path):
    root, bag, checkpoint, params_file = scene
    key_stamps = {
        m.header.stamp.sec * 10**9 + m.header.stamp.nanosec
        for m in read_bag_messages(bag)["/CAM_FRONT/image_rect_compressed"]
    }
    arguments = {
        "checkpoint": checkpoint,
        "params_file": params_file,
        "device": "cpu",
        "use_sim_time": "true",
    }
    with (
        probe() as helper,
        launched("occle_nuscenes.launch.py", arguments, tmp_path / "launch.log") as launch,
    ):
        occupancy = helper.collect(SemanticOccupancy, "/occle/output/occupancy")
        wait_for_state(helper, launch, "active")
        player = BagPlayer(helper.node, bag)
        try:
            for topic, publisher in player.publishers.items():
                if topic.endswith(("compressed", "camera_info")) or topic == CLOUD:
                    helper.wait_for_subscribers(publisher)
            keys: list[int] = []

            def hold_key_frames(message) -> None:
                """The previous key frame is out before the next starts: none is dropped."""
                if message.topic == CLOUD and stamp_of(message) in key_stamps:
                    wait_until(lambda: len(occupancy) >= len(keys), 60, f"key frame {len(keys)}")
                    keys.append(stamp_of(message))

            # At the recorded pace, as a robot publishes (a burst of large best-effort messages
            # would lose some on the way, as it would on a robot).
            player.play(rate=1.0, before=hold_key_frames)
            wait_until(lambda: len(occupancy) >= KEYS, 60, "the last key frame")
        finally:
            player.close()
        log = launch.output()
    assert len(keys) == KEYS and len(occupancy) == KEYS, log[-3000:]

    config = load_node_config(params_file)
    runner = ModelRunner.from_checkpoint(str(checkpoint), "occle_occ3d_tiny", device="cpu")
    offline_out = tmp_path / "bag_eval"
    report = replay_bag(bag, runner, config, out=offline_out)
    offline = [message_to_grid(m) for m in read_bag_messages(offline_out)["/occle/occupancy"]]
    (dataset_scene,) = open_occ3d_scenes(root, INFO_FILE, [SCENE], sweeps=4)
    model, _ = load_checkpoint(checkpoint)
    expected = dict(predict_frames(model, dataset_scene, dataset_scene.scan_ids, 1))
    assert report.frames == KEYS and report.skipped == 0
    for index, message in enumerate(occupancy):
        grid = message_to_grid(message)
        assert message.header.frame_id == "base_link"
        assert list(message.dims) == list(load_model_config("occle_occ3d_tiny").grid.shape)
        np.testing.assert_array_equal(grid.labels, offline[index].labels)
        agreement = (grid.labels == expected[index]).mean()
        assert agreement > 0.999, f"key frame {index}: {agreement:.5f} of voxels as occle infer"
        assert len(np.unique(grid.labels)) > 1
