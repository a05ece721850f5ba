"""Drive the node on a live ROS 2 graph from Python (tests, benchmarks, scripts): a helper node
on an rclpy context of its own spun in the background, `ros2 launch` as a user runs it, and a
rig that publishes a SemanticKITTI-format sequence as a robot would (needs rclpy, launch_ros).

Every helper tears down what it started: probes shut their executor down and destroy their node
and context; launches are stopped with SIGINT (then SIGKILL) for their whole process group.
Start them with ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST and a ROS_DOMAIN_ID set where the network
must stay untouched.
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
        """Wait until another node subscribes to `publisher`'s topic, with a QoS that suits it:
        reliable when the publisher is (the node's qos.reliability auto follows the publishers
        within a diagnostics period; a message sent before that could be lost)."""
        from rclpy.qos import ReliabilityPolicy

        reliable = publisher.qos_profile.reliability == ReliabilityPolicy.RELIABLE

        def matched() -> bool:
            others = self.node.get_subscriptions_info_by_topic(publisher.topic_name)
            suited = [
                info
                for info in others
                if info.node_name != self.node.get_name()
                and (not reliable or info.qos_profile.reliability == ReliabilityPolicy.RELIABLE)
            ]
            return bool(suited) and publisher.get_subscription_count() >= len(suited)

        wait_until(matched, timeout, f"a subscriber on {publisher.topic_name}")

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

    def set_parameter(self, name: str, value: Any, node: str = "/occle") -> Any:
        """Set one parameter of `node` (rcl_interfaces/srv/SetParameters); returns its result."""
        from rcl_interfaces.srv import SetParameters
        from rclpy.parameter import Parameter

        request = SetParameters.Request(
            parameters=[Parameter(name, value=value).to_parameter_msg()]
        )
        return self._call(SetParameters, f"{node}/set_parameters", request, 10.0).results[0]

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


class KittiRig:
    """Publishes a SemanticKITTI-format sequence as a live robot would: /tf_static (LiDAR ->
    camera), and per frame /tf (odom -> LiDAR), the cloud, the image and its CameraInfo, all
    stamped with the time of publication (or a given stamp), on the topics of occle.launch.py.

    Args:
        helper: the probe whose node publishes.
        root: dataset root; sequence: its sequence.
    """

    CLOUD = "/velodyne_points"
    IMAGE = "/camera/image_2/image_raw"
    INFO = "/camera/image_2/camera_info"

    def __init__(self, helper: Probe, root: Path, sequence: str = "00"):
        from rclpy.qos import DurabilityPolicy, QoSProfile
        from sensor_msgs.msg import CameraInfo, Image, PointCloud2
        from tf2_msgs.msg import TFMessage

        from occle_core.data.semantickitti.sequence import SemanticKittiSequence
        from occle_ros.node import RclpyFactory

        self.helper = helper
        self.sequence = SemanticKittiSequence(root, sequence)
        self.factory = RclpyFactory()
        latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.static = helper.publisher(TFMessage, "/tf_static", latched)
        self.tf = helper.publisher(TFMessage, "/tf", 10)
        self.cloud = helper.publisher(PointCloud2, self.CLOUD, 10)
        self.image = helper.publisher(Image, self.IMAGE, 10)
        self.info = helper.publisher(CameraInfo, self.INFO, 10)

    def wait_for_node(self, timeout: float = 30.0) -> None:
        for publisher in (self.cloud, self.image, self.info):
            self.helper.wait_for_subscribers(publisher, timeout)

    def now(self) -> int:
        return int(self.helper.node.get_clock().now().nanoseconds)

    def publish_static(self) -> None:
        from occle_ros.conversions.transform import transform_stamped

        camera = self.sequence.frame(0, load_image=True).cameras[0]
        static = transform_stamped(
            self.factory, camera.ref_from_cam, self.now(), "velodyne", "image_2_optical"
        )
        self.static.publish(self.factory.new("tf2_msgs/msg/TFMessage", transforms=[static]))

    def frame_messages(self, index: int, stamp_ns: int) -> dict[str, Any]:
        """The messages of frame `index` stamped `stamp_ns`: {"tf", "cloud", "image", "info"}."""
        from occle_ros.conversions.camera import camera_info_message
        from occle_ros.conversions.image import array_to_image
        from occle_ros.conversions.pointcloud import array_to_cloud
        from occle_ros.conversions.transform import transform_stamped

        frame = self.sequence.frame(index, load_image=True)
        camera = frame.cameras[0]
        odom = transform_stamped(self.factory, frame.pose, stamp_ns, "odom", "velodyne")
        return {
            "tf": self.factory.new("tf2_msgs/msg/TFMessage", transforms=[odom]),
            "cloud": array_to_cloud(self.factory, frame.points, stamp_ns, "velodyne"),
            "image": array_to_image(self.factory, frame.images[0], stamp_ns, "image_2_optical"),
            "info": camera_info_message(
                self.factory,
                camera.intrinsics,
                camera.width,
                camera.height,
                stamp_ns,
                "image_2_optical",
            ),
        }

    def publish(self, messages: dict[str, Any]) -> None:
        """Publish what `frame_messages` built (any of its keys), TF first."""
        for key, publisher in (
            ("tf", self.tf),
            ("cloud", self.cloud),
            ("image", self.image),
            ("info", self.info),
        ):
            if key in messages:
                publisher.publish(messages[key])

    def publish_frame(self, index: int, stamp_ns: int | None = None) -> int:
        stamp = self.now() if stamp_ns is None else stamp_ns
        self.publish(self.frame_messages(index, stamp))
        return stamp
