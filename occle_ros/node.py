"""The rclpy node `occle`: thin wiring over `occle_ros.pipeline` (which holds all logic).

This is the only module that imports rclpy, message_filters and tf2_ros. It cannot run in our
CI (rclpy is not installable from PyPI); CI type-checks it against rclpy's own sources
(rclpy-intellisense) and the pipeline underneath is tested without ROS.

Topics (private, remap them in the launch file): inputs ``~/input/pointcloud``,
``~/input/image`` (or CompressedImage), ``~/input/camera_info``; outputs
``~/output/occupancy`` (occle_ros/SemanticOccupancy), ``~/output/markers`` (MarkerArray),
``~/output/voxels`` (PointCloud2), ``~/debug/processing_time_ms`` and
``~/debug/pipeline_latency_ms`` (Float64), ``/diagnostics``.
"""

from __future__ import annotations

import array
import importlib
import threading
from typing import Any

import numpy as np
import rclpy
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rclpy.time import Time

from occle_ros.conversions.transform import transform_to_matrix
from occle_ros.messages import stamp_to_ns
from occle_ros.pipeline.config import NodeConfig, node_config_from_parameters, parameter_defaults
from occle_ros.pipeline.descriptions import parameter_descriptions
from occle_ros.pipeline.model_runner import ModelRunner
from occle_ros.pipeline.pipeline import (
    CLOUD_KEY,
    OccupancyPipeline,
    PipelineOutput,
    image_key,
    info_key,
)
from occle_ros.pipeline.worker import LatestOnlyWorker

_ARRAY_CODES = {
    "int8": "b",
    "uint8": "B",
    "int16": "h",
    "uint16": "H",
    "int32": "i",
    "uint32": "I",
    "int64": "q",
    "uint64": "Q",
    "float": "f",
    "double": "d",
}


class RclpyFactory:
    """`MessageFactory` over the generated rclpy message classes.

    numpy arrays given for ``sequence<primitive>`` fields become `array.array` (what the
    generated setters accept); fixed-size arrays take numpy arrays as they are.
    """

    def __init__(self) -> None:
        self._classes: dict[str, Any] = {}

    def new(self, typename: str, **fields: Any) -> Any:
        if typename not in self._classes:
            package, _, name = typename.split("/")
            self._classes[typename] = getattr(importlib.import_module(f"{package}.msg"), name)
        message = self._classes[typename]()
        kinds = message.get_fields_and_field_types()
        for key, value in fields.items():
            kind = kinds[key]
            if isinstance(value, np.ndarray) and kind.startswith("sequence<"):
                code = _ARRAY_CODES.get(kind[len("sequence<") : -1])
                if code is not None:
                    value = array.array(code, np.ascontiguousarray(value).tobytes())
            setattr(message, key, value)
        return message


def _declare(node: Node) -> NodeConfig:
    """Declare every parameter with its description and read the effective configuration."""
    from rcl_interfaces.msg import ParameterDescriptor

    descriptions = parameter_descriptions()
    values: dict[str, Any] = {}
    for name, default in parameter_defaults().items():
        descriptor = ParameterDescriptor(description=descriptions.get(name, ""))
        if isinstance(default, list) and not default:
            # An empty list has no type to infer: declare the type explicitly.
            node.declare_parameter(name, Parameter.Type.DOUBLE_ARRAY, descriptor)
            value = node.get_parameter(name).value
            values[name] = list(value) if value is not None else []
        else:
            values[name] = node.declare_parameter(name, default, descriptor).value
    return node_config_from_parameters(values, f"node {node.get_name()} parameters")


class OccleNode(Node):
    """Camera + LiDAR in, semantic occupancy out (see the module docstring for topics)."""

    def __init__(self) -> None:
        super().__init__("occle")
        import message_filters
        import tf2_ros
        from diagnostic_msgs.msg import DiagnosticArray
        from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2
        from std_msgs.msg import Float64
        from visualization_msgs.msg import MarkerArray

        from occle_ros.msg import SemanticOccupancy

        self.config = _declare(self)
        self.get_logger().info(f"effective configuration: {self.config}")
        model = self.config.model
        runner = ModelRunner.from_checkpoint(
            model.checkpoint, model.config, model.device, model.amp
        )
        self.get_logger().info(
            f"model {runner.config.name} on {runner.device}, grid {runner.config.grid.shape} "
            f"in frame {runner.config.grid.frame_id!r}"
        )
        self._tf_errors = (
            tf2_ros.LookupException,
            tf2_ros.ConnectivityException,
            tf2_ros.ExtrapolationException,
        )
        self.tf_buffer = tf2_ros.Buffer()
        self.tf_listener = tf2_ros.TransformListener(self.tf_buffer, self)
        self.factory = RclpyFactory()
        self.pipeline = OccupancyPipeline(
            runner, self.config, self.factory, self._lookup, self.get_logger()
        )
        qos = QoSProfile(
            history=qos_profile_sensor_data.history,
            depth=self.config.qos.depth,
            reliability=ReliabilityPolicy.RELIABLE
            if self.config.qos.reliability == "reliable"
            else ReliabilityPolicy.BEST_EFFORT,
            durability=qos_profile_sensor_data.durability,
        )
        topics = self.config.topics
        image_type = CompressedImage if topics.compressed else Image
        cloud_subscriber = message_filters.Subscriber(
            self, PointCloud2, topics.cloud, qos_profile=qos
        )
        # Every cloud, paired with images or not, is history for the next frame (input.scans).
        cloud_subscriber.registerCallback(self.pipeline.observe_cloud)
        subscribers = [cloud_subscriber]
        for image_topic, info_topic in zip(topics.images, topics.camera_infos, strict=True):
            subscribers.append(
                message_filters.Subscriber(self, image_type, image_topic, qos_profile=qos)
            )
            subscribers.append(
                message_filters.Subscriber(self, CameraInfo, info_topic, qos_profile=qos)
            )
        self.sync = message_filters.ApproximateTimeSynchronizer(
            subscribers, self.config.sync.queue_size, self.config.sync.slop
        )
        self.sync.registerCallback(self._on_synced)
        self.occupancy_pub = self.create_publisher(SemanticOccupancy, topics.occupancy, 2)
        self.markers_pub = (
            self.create_publisher(MarkerArray, topics.markers, 2) if topics.markers else None
        )
        self.voxels_pub = (
            self.create_publisher(PointCloud2, topics.voxels, 2) if topics.voxels else None
        )
        self.processing_pub = self.create_publisher(Float64, "~/debug/processing_time_ms", 5)
        self.latency_pub = self.create_publisher(Float64, "~/debug/pipeline_latency_ms", 5)
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 5)
        self._float = Float64
        self.worker: LatestOnlyWorker[dict[str, Any]] = LatestOnlyWorker(
            self._process, lambda error: self.get_logger().error(f"inference failed: {error!r}")
        )
        self.idle_frames = 0
        self._lock = threading.Lock()
        self.create_timer(self.config.diagnostics_period, self._publish_diagnostics)

    # --- callbacks ---------------------------------------------------------------------------
    def _has_subscribers(self) -> bool:
        publishers = [self.occupancy_pub, self.markers_pub, self.voxels_pub]
        return any(p is not None and p.get_subscription_count() > 0 for p in publishers)

    def _on_synced(self, cloud: Any, *cameras: Any) -> None:
        """message_filters callback (executor thread): hand the set to the inference worker."""
        if not (self.config.output.publish_without_subscribers or self._has_subscribers()):
            with self._lock:
                self.idle_frames += 1  # no inference without subscribers
            return
        messages = {CLOUD_KEY: cloud}
        for index in range(len(cameras) // 2):
            messages[image_key(index)] = cameras[2 * index]
            messages[info_key(index)] = cameras[2 * index + 1]
        self.worker.submit(messages)

    def _lookup(self, target: str, source: str, stamp_ns: int) -> Any:
        """TF at the message stamp, waiting up to tf.timeout; LookupError when unavailable."""
        from rclpy.duration import Duration

        try:
            transform = self.tf_buffer.lookup_transform(
                target,
                source,
                Time(nanoseconds=stamp_ns),
                timeout=Duration(nanoseconds=int(self.config.tf.timeout * 1e9)),
            )
        except self._tf_errors as error:
            raise LookupError(f"TF {source} -> {target}: {error}") from None
        return transform_to_matrix(transform.transform, "/tf")

    def _process(self, messages: dict[str, Any]) -> None:
        """Worker thread: run the pipeline, publish, account latency."""
        output = self.pipeline.process(messages)
        if output is None:
            return
        self._publish(output)
        stamp_ns = stamp_to_ns(messages[CLOUD_KEY].header.stamp)
        latency = (self.get_clock().now().nanoseconds - stamp_ns) * 1e-9
        self.pipeline.latency.record("stamp_to_publish", latency)
        self.processing_pub.publish(self._float(data=output.timings["processing"] * 1e3))
        self.latency_pub.publish(self._float(data=latency * 1e3))

    def _publish(self, output: PipelineOutput) -> None:
        self.occupancy_pub.publish(output.occupancy)
        if self.markers_pub is not None and output.markers is not None:
            self.markers_pub.publish(output.markers)
        if self.voxels_pub is not None and output.voxels is not None:
            self.voxels_pub.publish(output.voxels)

    def _publish_diagnostics(self) -> None:
        from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

        counters = self.pipeline.counters
        summary = self.pipeline.latency.summary()
        level = DiagnosticStatus.OK
        message = "running"
        if counters.skipped and counters.last_error:
            level, message = DiagnosticStatus.WARN, f"last skipped frame: {counters.last_error}"
        values = {
            "frames": counters.frames,
            "skipped_frames": counters.skipped,
            "dropped_frames (busy)": self.worker.dropped,
            "idle_frames (no subscribers)": self.idle_frames,
            "fallback_extrinsics": self.pipeline.assembler.used_fallback_extrinsics,
            "single_scan_fallbacks": self.pipeline.assembler.single_scan_fallbacks,
            "dropped_history_clouds": self.pipeline.assembler.dropped_history_clouds,
            "uncompensated_cameras": self.pipeline.assembler.uncompensated_cameras,
            "device": str(self.pipeline.runner.device),
        }
        for stage, stats in summary.items():
            values[f"{stage} p50 ms"] = round(stats["p50_ms"], 1)
        status = DiagnosticStatus(
            level=level,
            name="occle: semantic occupancy",
            hardware_id=str(self.pipeline.runner.device),
            message=message[:200],
            values=[KeyValue(key=k, value=str(v)) for k, v in values.items()],
        )
        array_msg = DiagnosticArray(status=[status])
        array_msg.header.stamp = self.get_clock().now().to_msg()
        self.diagnostics_pub.publish(array_msg)

    def destroy_node(self) -> None:
        self.worker.stop()
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    """Entry point of the `occle_node` executable."""
    rclpy.init(args=args)
    node = OccleNode()
    # Several threads: TF lookups in the worker wait while the executor keeps receiving /tf.
    executor = MultiThreadedExecutor(num_threads=3)
    executor.add_node(node)
    try:
        executor.spin()
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
