"""The node's lifecycle on a live ROS 2 graph, driven with the `ros2` command line as an operator
would: `ros2 launch ... autostart:=false` leaves it unconfigured; `ros2 lifecycle set` configures
(parameters read, model loaded), activates (inputs subscribed, outputs published), deactivates
(inputs and outputs dropped) and cleans up; a configure that cannot succeed (a missing
checkpoint) fails with its reason and leaves the node running; `ros2 param` describes typed
parameters and refuses values that would not configure."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from live_graph import (
    KittiRig,
    launched,
    probe,
    require_ros_graph,
    wait_until,
)

require_ros_graph()

from occle_core.data.synthetic.generate import SynthConfig, write_synthetic_dataset  # noqa: E402
from occle_core.model.build import build_model  # noqa: E402
from occle_core.model.checkpoint import save_checkpoint  # noqa: E402
from occle_core.model.config import load_model_config  # noqa: E402
from occle_ros.msg import SemanticOccupancy  # noqa: E402


def ros2(verb: str, sub_verb: str, *arguments: str, check: bool = True) -> str:
    """Run the real `ros2` command (through its daemon, which `ros2_daemon` stops at the end;
    tried again while the daemon's discovery has not found /occle yet)."""
    command = ["ros2", verb, sub_verb, *arguments]
    for _ in range(5):
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, env=os.environ)
        output = result.stdout + result.stderr
        if "Node not found" not in output:
            break
        time.sleep(0.3)
    if check:
        assert result.returncode == 0, f"{' '.join(command)}: {output}"
    return output


@pytest.fixture(autouse=True)
def ros2_daemon():
    """The ros2 daemon the commands start must not outlive the test."""
    yield
    subprocess.run(["ros2", "daemon", "stop"], capture_output=True, timeout=60, env=os.environ)


@pytest.fixture(scope="module")
def sequence_and_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("synthetic")
    write_synthetic_dataset(root, [0], SynthConfig(frames=3, seed=2, scale="tiny", previews=False))
    checkpoint = tmp_path_factory.mktemp("model") / "tiny.pt"
    save_checkpoint(checkpoint, build_model(load_model_config("occle_tiny"), seed=1))
    return root, checkpoint


def test_lifecycle_with_the_ros2_command_line(sequence_and_checkpoint, tmp_path: Path):
    root, checkpoint = sequence_and_checkpoint
    arguments = {"checkpoint": checkpoint, "device": "cpu", "autostart": "false"}
    with (
        probe() as helper,
        launched("occle.launch.py", arguments, tmp_path / "launch.log") as launch,
    ):
        rig = KittiRig(helper, root)
        occupancy = helper.collect(SemanticOccupancy, "/occle/output/occupancy")
        wait_until(
            lambda: ros2("lifecycle", "get", "/occle", check=False).startswith("unconfigured"),
            30,
            "/occle unconfigured on the graph",
        )
        # Parameters exist, typed, before configure; a value that cannot configure is refused.
        assert "Type: double array" in ros2("param", "describe", "/occle", "tf.cam_from_lidar")
        refused = ros2("param", "set", "/occle", "sync.slop", "-1.0", check=False)
        assert "Setting parameter failed" in refused and "sync.slop" in refused
        assert ros2("param", "get", "/occle", "sync.slop").strip().endswith("0.05")
        assert helper.node.count_subscribers(rig.CLOUD) == 0

        assert "Transitioning successful" in ros2("lifecycle", "set", "/occle", "configure")
        assert ros2("lifecycle", "get", "/occle").startswith("inactive")
        assert helper.node.count_subscribers(rig.CLOUD) == 0  # inputs only when active

        assert "Transitioning successful" in ros2("lifecycle", "set", "/occle", "activate")
        assert ros2("lifecycle", "get", "/occle").startswith("active")
        # A transition the state does not offer is refused, and the node lives on.
        assert "Transitioning successful" not in ros2(
            "lifecycle", "set", "/occle", "activate", check=False
        )
        assert ros2("lifecycle", "get", "/occle").startswith("active") and launch.running()
        rig.wait_for_node()
        rig.publish_static()
        stamp = rig.publish_frame(0)
        wait_until(lambda: occupancy, 60, "an output while active")
        assert occupancy[-1].header.stamp.sec * 10**9 + occupancy[-1].header.stamp.nanosec == stamp

        assert "Transitioning successful" in ros2("lifecycle", "set", "/occle", "deactivate")
        wait_until(
            lambda: (
                helper.node.count_subscribers(rig.CLOUD) == 0
                and helper.node.count_publishers("/occle/output/occupancy") == 0
            ),
            20,
            "inputs and outputs dropped on deactivate",
        )
        count = len(occupancy)
        rig.publish_frame(1)
        time.sleep(1.0)
        assert len(occupancy) == count

        # cleanup drops the model; a configure with a missing checkpoint fails and says why.
        assert "Transitioning successful" in ros2("lifecycle", "set", "/occle", "cleanup")
        missing = tmp_path / "missing.pt"
        ros2("param", "set", "/occle", "model.checkpoint", str(missing))
        failed = ros2("lifecycle", "set", "/occle", "configure", check=False)
        assert "Transitioning successful" not in failed
        assert ros2("lifecycle", "get", "/occle").startswith("unconfigured")
        wait_until(lambda: "configure failed" in launch.output(), 10, "the configure error")
        assert str(missing) in launch.output()
        assert launch.running()

        ros2("param", "set", "/occle", "model.checkpoint", str(checkpoint))
        assert "Transitioning successful" in ros2("lifecycle", "set", "/occle", "configure")
        assert "Transitioning successful" in ros2("lifecycle", "set", "/occle", "activate")
        rig.wait_for_node()
        count = len(occupancy)
        rig.publish_frame(2)
        wait_until(lambda: len(occupancy) > count, 60, "an output after reconfiguring")
        assert "Transitioning successful" in ros2("lifecycle", "set", "/occle", "shutdown")
        assert ros2("lifecycle", "get", "/occle").startswith("finalized")
