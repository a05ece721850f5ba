"""Helpers for the tests on a live ROS 2 graph: the real rclpy, message_filters, tf2_ros and
`ros2 launch` (../shared/ros, installed by scripts/setup_ros.sh) and the colcon build of this
package (scripts/build_ros.sh), with FastDDS on loopback (test/conftest.py sets
ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST and a ROS_DOMAIN_ID before anything starts a node).

Every helper tears down what it started: probes shut their executor down and destroy their node
and context; launches are stopped with SIGINT (then SIGKILL) for their whole process group.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


def ros_pieces_dir() -> Path:
    return Path(os.environ.get("OCCLE_ROS_DIR", REPO / ".." / "shared" / "ros"))


def require_ros_graph() -> None:
    """Skip the calling test module unless a live ROS 2 graph can run here.

    Without ../shared/ros (the pieces PyPI lacks) the module skips with that reason. Where they
    exist but the stack or the colcon build is missing, it skips, or fails under CI=true: CI
    must run these tests, not skip them.
    """
    pieces = ros_pieces_dir()
    if not pieces.is_dir():
        pytest.skip(
            f"no ROS 2 pieces at {pieces} (message_filters, tf2_ros, launch): the live-graph "
            "tests need them (../shared/ros/README.md)",
            allow_module_level=True,
        )
    problems = []
    for module in ("rclpy", "rclpy.lifecycle", "message_filters", "tf2_ros", "launch_ros"):
        try:
            __import__(module)
        except ImportError as error:
            problems.append(f"{module} ({error}): run scripts/setup_ros.sh")
    try:
        import occle_ros.msg  # noqa: F401
    except ImportError as error:
        problems.append(
            f"occle_ros.msg ({error}): run scripts/build_ros.sh and `. scripts/ros_env.sh`"
        )
    try:
        from ament_index_python.packages import get_package_share_directory

        get_package_share_directory("occle_ros")
    except Exception as error:  # PackageNotFoundError, or no ament_index_python at all
        problems.append(f"occle_ros not on the ament index ({error!r}): `. scripts/ros_env.sh`")
    if problems:
        message = "live ROS 2 graph unavailable: " + "; ".join(problems)
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message, allow_module_level=True)


def wait_until(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll `predicate` until it returns something truthy; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        time.sleep(0.02)


class Probe:
    """A helper node on its own rclpy context, spun by a background executor."""

    def __init__(self, name: str = "occle_test_probe"):
        import rclpy
        from rclpy.executors import MultiThreadedExecutor

        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node(name, context=self.context)
        self.executor = MultiThreadedExecutor(num_threads=2, context=self.context)
        self.executor.add_node(self.node)
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        from rclpy.executors import ExternalShutdownException

        with suppress(ExternalShutdownException):
            self.executor.spin()

    def collect(self, message_type: Any, topic: str, qos: Any = 10) -> list[Any]:
        """Subscribe and return the (growing) list of received messages."""
        received: list[Any] = []

        def keep(message: Any) -> None:
            with self._lock:
                received.append(message)

        self.node.create_subscription(message_type, topic, keep, qos)
        return received

    def publisher(self, message_type: Any, topic: str, qos: Any = 10) -> Any:
        return self.node.create_publisher(message_type, topic, qos)

    def wait_for_subscribers(self, publisher: Any, timeout: float = 20.0) -> None:
        wait_until(
            lambda: publisher.get_subscription_count() > 0,
            timeout,
            f"a subscriber on {publisher.topic_name}",
        )

    def lifecycle_state(self, node: str = "/occle", timeout: float = 10.0) -> str:
        """The lifecycle state label of `node` (lifecycle_msgs/srv/GetState)."""
        from lifecycle_msgs.srv import GetState

        return self._call(
            GetState, f"{node}/get_state", GetState.Request(), timeout
        ).current_state.label

    def change_state(self, transition: str, node: str = "/occle", timeout: float = 60.0) -> bool:
        """Request a lifecycle transition ("configure", "activate", ...); True on success."""
        from lifecycle_msgs.msg import Transition
        from lifecycle_msgs.srv import ChangeState

        request = ChangeState.Request()
        request.transition.id = getattr(Transition, f"TRANSITION_{transition.upper()}")
        return bool(self._call(ChangeState, f"{node}/change_state", request, timeout).success)

    def _call(self, service_type: Any, name: str, request: Any, timeout: float) -> Any:
        client = self.node.create_client(service_type, name)
        try:
            if not client.wait_for_service(timeout_sec=timeout):
                raise AssertionError(f"service {name} not available within {timeout} s")
            future = client.call_async(request)
            wait_until(future.done, timeout, f"an answer from {name}")
            return future.result()
        finally:
            self.node.destroy_client(client)

    def close(self) -> None:
        import rclpy

        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)
        self._thread.join(timeout=10)


@contextmanager
def probe(name: str = "occle_test_probe") -> Iterator[Probe]:
    helper = Probe(name)
    try:
        yield helper
    finally:
        helper.close()


class Launch:
    """`ros2 launch occle_ros <file> key:=value ...` as a user runs it, output kept in a log."""

    def __init__(self, launch_file: str, arguments: dict[str, Any], log: Path):
        self.log_path = log
        command = ["ros2", "launch", "occle_ros", launch_file]
        command += [f"{key}:={value}" for key, value in arguments.items()]
        self._log = log.open("w")
        self.process = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> int:
        """SIGINT to the launch and its node (one process group), SIGKILL after 20 s."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        else:
            # The launch ended by itself: make sure nothing it started lingers.
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self._log.close()
        return self.process.returncode


@contextmanager
def launched(launch_file: str, arguments: dict[str, Any], log: Path) -> Iterator[Launch]:
    launch = Launch(launch_file, arguments, log)
    try:
        yield launch
    finally:
        launch.stop()


def wait_for_state(helper: Probe, launch: Launch, state: str, timeout: float = 60.0) -> None:
    """Wait until /occle reports `state`; fail with the launch log if the launch died."""

    def reached() -> bool:
        if not launch.running():
            raise AssertionError(f"the launch ended early:\n{launch.output()}")
        try:
            return helper.lifecycle_state(timeout=2.0) == state
        except AssertionError:
            return False

    try:
        wait_until(reached, timeout, f"/occle {state}")
    except AssertionError as error:
        raise AssertionError(f"{error}\nlaunch log:\n{launch.output()[-4000:]}") from None
