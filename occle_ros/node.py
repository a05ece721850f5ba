"""The rclpy lifecycle node `occle`: thin wiring over `occle_ros.pipeline` (which holds all logic).

Lifecycle (``ros2 lifecycle set /occle <transition>``; the launch files configure and activate
it unless ``autostart:=false``):

- configure: read and check the parameters, load the model on its device, create the TF buffer;
- activate: create the publishers, the TF listener, the input subscriptions (message_filters
  `ApproximateTimeSynchronizer`) and the diagnostics timer;
- deactivate: drop all of those, wait for the frame in flight and free the GPU cache;
- cleanup: drop the model and the TF buffer (configure may then read changed parameters).

Topics (private, remap them in the launch file): inputs ``~/input/pointcloud``,
``~/input/image`` (or CompressedImage), ``~/input/camera_info``; outputs
``~/output/occupancy`` (occle_ros/SemanticOccupancy), ``~/output/markers`` (MarkerArray),
``~/output/voxels`` (PointCloud2), ``~/debug/processing_time_ms`` and
``~/debug/pipeline_latency_ms`` (Float64), ``/diagnostics``.

Threads: the rclpy executor (three threads: TF lookups in the inference wait while /tf keeps
arriving) spins in the background and inference runs on the process's main thread, with a queue
of one. On the CPU, torch's kernels run several times slower on any other thread (OpenMP wakes
its workers slowly for a non-initial thread: `index_add_` on a (5000, 32) block takes 104 us on
the main thread and 830 us on another one here, and the tiny model 350 ms against 800 ms).
"""

from __future__ import annotations

import array
import dataclasses
import functools
import importlib
import threading
from dataclasses import dataclass, field
from typing import Any

import message_filters
import numpy as np
import rclpy
import tf2_ros
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import SetParametersResult
from rclpy.clock import Clock, ClockType
from rclpy.duration import Duration
from rclpy.event_handler import (
    QoSMessageLostInfo,
    QoSRequestedIncompatibleQoSInfo,
    SubscriptionEventCallbacks,
)
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rclpy.time import Time
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2
from std_msgs.msg import Float64
from visualization_msgs.msg import MarkerArray

from occle_core.errors import DataFormatError
from occle_core.runtime import ModelRunner
from occle_ros.conversions.transform import transform_to_matrix
from occle_ros.errors import MessageError
from occle_ros.node_parameters import declare_node_parameters, read_node_config
from occle_ros.pipeline.config import NodeConfig, node_config_from_parameters, parameter_defaults
from occle_ros.pipeline.pipeline import OccupancyPipeline, PipelineOutput
from occle_ros.pipeline.reliability import wants_reliable
from occle_ros.pipeline.sensors import SensorSet, input_topics
from occle_ros.pipeline.stamps import StampGate
from occle_ros.pipeline.sync import seconds_to_ns
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
#: Seconds between two log lines of one kind of skipped input (every skip is counted).
LOG_THROTTLE = 2.0


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


class _ThrottledLogger:
    """The pipeline's logger: rclpy's, with warnings at most every `LOG_THROTTLE` seconds."""

    def __init__(self, logger: Any):
        self._logger = logger

    def info(self, message: str) -> None:
        self._logger.info(message)

    def warning(self, message: str) -> None:
        self._logger.warning(message, throttle_duration_sec=LOG_THROTTLE)

    def error(self, message: str) -> None:
        self._logger.error(message)


class StampFilter(message_filters.SimpleFilter):
    """Passes on the messages of one topic whose header stamp the pipeline accepts (zero,
    negative or far-future stamps are counted in `gate` and logged, never synchronised)."""

    def __init__(self, upstream: Any, topic: str, gate: StampGate, node: LifecycleNode):
        super().__init__()
        self.topic, self.gate, self.node = topic, gate, node
        upstream.registerCallback(self.add)

    def add(self, message: Any) -> None:
        if self.gate.check(message, self.topic, self.node.get_clock().now().nanoseconds) is None:
            self.node.get_logger().warning(
                f"refused a message: {self.gate.last_error}", throttle_duration_sec=LOG_THROTTLE
            )
            return
        self.signalMessage(message)


@dataclass
class _Model:
    """What configure builds and cleanup drops."""

    config: NodeConfig
    runner: ModelRunner
    tf_buffer: tf2_ros.Buffer
    pipeline: OccupancyPipeline
    occupancy_type: Any


@dataclass
class _Input:
    """One input topic: its message_filters subscriber and the reliability it was made with."""

    topic: str
    message_type: Any
    subscriber: Any
    reliable: bool


@dataclass
class _Active:
    """What activate builds and deactivate drops."""

    publishers: dict[str, Any]
    gate: StampGate
    listener: tf2_ros.TransformListener
    inputs: list[_Input] = field(default_factory=list)
    synchronizer: Any = None
    timers: list[Any] = field(default_factory=list)
    qos_mismatches: dict[str, int] = field(default_factory=dict)
    lost_messages: dict[str, int] = field(default_factory=dict)
    idle_frames: int = 0


class OccleNode(LifecycleNode):
    """Camera + LiDAR in, semantic occupancy out (see the module docstring).

    Args:
        node_name: the node's name ("occle").
        **kwargs: passed to rclpy's LifecycleNode (e.g. `parameter_overrides`).
    """

    def __init__(self, node_name: str = "occle", **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        self._guard_change_state()
        declare_node_parameters(self)
        self.add_on_set_parameters_callback(self._check_new_parameters)
        self.factory = RclpyFactory()
        self.model: _Model | None = None
        self.active: _Active | None = None
        self._lock = threading.Lock()
        #: Inference, run by `main` on the main thread (`worker.run()`).
        self.worker: LatestOnlyWorker[SensorSet] = LatestOnlyWorker(
            self._process,
            lambda error: self.get_logger().error(f"inference failed: {error!r}"),
            own_thread=False,
        )

    # --- lifecycle ------------------------------------------------------------------------
    def _guard_change_state(self) -> None:
        """Answer an impossible transition request with a failure instead of dying.

        rclpy (Jazzy) lets the state machine's error for a transition that the current state
        does not offer (`ros2 lifecycle set /occle activate` while active, or a request racing
        another) escape the change_state service callback, which ends the executor and the
        node."""
        service = getattr(self, "_service_change_state", None)
        if service is None:
            return
        handle = service.callback

        def guarded(request: Any, response: Any) -> Any:
            try:
                return handle(request, response)
            except Exception as error:
                label = request.transition.label or f"id {request.transition.id}"
                self.get_logger().warning(f"lifecycle transition {label} refused: {error}")
                response.success = False
                return response

        service.callback = guarded

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            config = self._resolved_topics(read_node_config(self))
            self.get_logger().info(f"effective configuration: {config}")
            # A robot without its GPU should still publish (slowly): CPU fallback with a warning.
            runner = ModelRunner.from_checkpoint(
                config.model.checkpoint,
                config.model.config,
                config.model.device,
                config.model.amp,
                fallback=True,
                mirror_occupancy=config.model.mirror_occupancy,
            )
            runner.use_cpu_threads(config.model.cpu_threads)
            pipeline = OccupancyPipeline(
                runner, config, self.factory, self._lookup, _ThrottledLogger(self.get_logger())
            )
            occupancy_type = _semantic_occupancy_class()
        except (DataFormatError, OSError, ValueError, RuntimeError) as error:
            # A bad parameter, a missing or foreign checkpoint, an unknown device: the node
            # stays unconfigured and says why (`ros2 lifecycle set /occle configure` again).
            self.get_logger().error(f"configure failed: {error}")
            return TransitionCallbackReturn.FAILURE
        self.model = _Model(config, runner, tf2_ros.Buffer(node=self), pipeline, occupancy_type)
        self.get_logger().info(
            f"model {runner.config.name} on {runner.device} ({runner.cpu_threads()} CPU "
            f"threads), grid {runner.config.grid.shape} in frame "
            f"{pipeline.assembler.grid_frame!r}"
        )
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        assert self.model is not None
        self.active = self._activate(self.model)
        self.get_logger().info("active: waiting for synchronised camera and LiDAR messages")
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._deactivate()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._cleanup()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._deactivate()
        self._cleanup()
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._deactivate()
        self._cleanup()
        return TransitionCallbackReturn.SUCCESS

    def _activate(self, model: _Model) -> _Active:
        config, topics = model.config, model.config.topics
        publishers = {
            "occupancy": self.create_publisher(model.occupancy_type, topics.occupancy, 2),
            "processing": self.create_publisher(Float64, "~/debug/processing_time_ms", 5),
            "latency": self.create_publisher(Float64, "~/debug/pipeline_latency_ms", 5),
            "diagnostics": self.create_publisher(DiagnosticArray, "/diagnostics", 5),
        }
        if topics.markers:
            publishers["markers"] = self.create_publisher(MarkerArray, topics.markers, 2)
        if topics.voxels:
            publishers["voxels"] = self.create_publisher(PointCloud2, topics.voxels, 2)
        active = _Active(
            publishers,
            StampGate(seconds_to_ns(config.input.max_stamp_lead)),
            tf2_ros.TransformListener(model.tf_buffer, self),
        )
        image_type = CompressedImage if topics.compressed else Image
        # The callback receives the messages in this order (SensorSet.from_synced).
        types = [PointCloud2] + [image_type, CameraInfo] * len(topics.images)
        filters = []
        for message_type, topic in zip(types, input_topics(topics), strict=True):
            reliable = self._wants_reliable(config, topic)
            subscriber = message_filters.Subscriber(
                self,
                message_type,
                topic,
                qos_profile=self._input_qos(config, reliable),
                event_callbacks=self._input_events(active, topic),
            )
            active.inputs.append(_Input(topic, message_type, subscriber, reliable))
            filters.append(StampFilter(subscriber, topic, active.gate, self))
        # Every cloud, paired with images or not, is history for the next frame (input.scans).
        filters[0].registerCallback(model.pipeline.observe_cloud)
        active.synchronizer = message_filters.ApproximateTimeSynchronizer(
            filters, config.sync.queue_size, config.sync.slop
        )
        active.synchronizer.registerCallback(self._on_synced)
        active.timers.append(
            self.create_timer(config.diagnostics_period, self._publish_diagnostics)
        )
        if config.qos.reliability == "auto":
            # On a steady clock: under use_sim_time, /clock may only start once the inputs are
            # heard, and hearing them may need the other reliability.
            active.timers.append(
                self.create_timer(
                    1.0,
                    functools.partial(self._follow_publishers, active, config),
                    clock=Clock(clock_type=ClockType.STEADY_TIME),
                )
            )
        return active

    def _deactivate(self) -> None:
        with self._lock:
            active, self.active = self.active, None
        if active is None:
            return
        for timer in active.timers:
            self.destroy_timer(timer)
        for stream in active.inputs:
            self.destroy_subscription(stream.subscriber.sub)
        active.listener.unregister()
        # Nothing new starts; the frame in flight finishes before its publishers go.
        self.worker.discard_pending()
        self.worker.wait_idle()
        for publisher in active.publishers.values():
            self.destroy_publisher(publisher)
        if self.model is not None:
            self.model.runner.release_device_memory()

    def _cleanup(self) -> None:
        model, self.model = self.model, None
        if model is not None:
            self.destroy_service(model.tf_buffer.srv)
            model.runner.release_device_memory()

    def _resolved_topics(self, config: NodeConfig) -> NodeConfig:
        """The configuration with every topic as the graph names it (namespace and remappings
        applied), so that logs and errors name the real topics."""

        def resolve(topic: str) -> str:
            return self.resolve_topic_name(topic) if topic else topic

        topics = config.topics
        resolved = dataclasses.replace(
            topics,
            cloud=resolve(topics.cloud),
            images=tuple(resolve(t) for t in topics.images),
            camera_infos=tuple(resolve(t) for t in topics.camera_infos),
            occupancy=resolve(topics.occupancy),
            markers=resolve(topics.markers),
            voxels=resolve(topics.voxels),
        )
        return dataclasses.replace(config, topics=resolved)

    def _wants_reliable(self, config: NodeConfig, topic: str) -> bool:
        offered = [
            info.qos_profile.reliability == ReliabilityPolicy.RELIABLE
            for info in self.get_publishers_info_by_topic(topic)
        ]
        return wants_reliable(config.qos.reliability, offered)

    def _input_qos(self, config: NodeConfig, reliable: bool) -> QoSProfile:
        return QoSProfile(
            history=qos_profile_sensor_data.history,
            depth=config.qos.depth,
            reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
            durability=qos_profile_sensor_data.durability,
        )

    def _input_events(self, active: _Active, topic: str) -> SubscriptionEventCallbacks:
        return SubscriptionEventCallbacks(
            incompatible_qos=functools.partial(self._on_qos_mismatch, active, topic),
            message_lost=functools.partial(self._on_message_lost, active, topic),
        )

    def _follow_publishers(self, active: _Active, config: NodeConfig) -> None:
        """qos.reliability auto: re-make a subscription whose publishers now want the other
        reliability (the message_filters subscriber keeps its place in the synchroniser)."""
        for stream in active.inputs:
            reliable = self._wants_reliable(config, stream.topic)
            if reliable == stream.reliable:
                continue
            old = stream.subscriber.sub
            stream.subscriber.sub = self.create_subscription(
                stream.message_type,
                stream.topic,
                stream.subscriber.callback,
                self._input_qos(config, reliable),
                event_callbacks=self._input_events(active, stream.topic),
            )
            self.destroy_subscription(old)
            stream.reliable = reliable
            self.get_logger().info(
                f"{stream.topic}: subscribed {'reliable' if reliable else 'best effort'}, as its "
                "publishers offer (qos.reliability: auto)"
            )

    def _check_new_parameters(self, parameters: list[Parameter]) -> SetParametersResult:
        """Refuse a `ros2 param set` that would not configure (changes apply at the next
        configure)."""
        values = {name: self.get_parameter(name).value for name in parameter_defaults()}
        values.update({p.name: p.value for p in parameters if p.name in values})
        values = {k: list(v) if isinstance(v, array.array) else v for k, v in values.items()}
        try:
            node_config_from_parameters(
                values, f"ros2 param set {', '.join(p.name for p in parameters)}"
            )
        except DataFormatError as error:
            return SetParametersResult(successful=False, reason=str(error))
        return SetParametersResult(successful=True)

    # --- callbacks ---------------------------------------------------------------------------
    def _on_qos_mismatch(
        self, active: _Active, topic: str, info: QoSRequestedIncompatibleQoSInfo
    ) -> None:
        active.qos_mismatches[topic] = info.total_count
        self.get_logger().warning(
            f"QoS mismatch on {topic}: {info.total_count} publisher(s) offer a QoS this "
            f"subscription cannot receive (last policy: {info.last_policy_kind.name}); "
            "qos.reliability: auto or best_effort hears every publisher"
        )

    def _on_message_lost(self, active: _Active, topic: str, info: QoSMessageLostInfo) -> None:
        active.lost_messages[topic] = info.total_count
        self.get_logger().warning(
            f"{info.total_count} message(s) lost on {topic} before the node could take them "
            "(a best-effort link under load); sets missing them are not paired",
            throttle_duration_sec=LOG_THROTTLE,
        )

    def _has_subscribers(self, active: _Active) -> bool:
        outputs = [active.publishers.get(k) for k in ("occupancy", "markers", "voxels")]
        return any(p is not None and p.get_subscription_count() > 0 for p in outputs)

    def _on_synced(self, cloud: Any, *cameras: Any) -> None:
        """message_filters callback (executor thread): hand the set to the inference worker."""
        active, model = self.active, self.model
        if active is None or model is None:
            return
        if not (model.config.output.publish_without_subscribers or self._has_subscribers(active)):
            active.idle_frames += 1  # no inference without subscribers
            return
        self.worker.submit(SensorSet.from_synced((cloud, *cameras)))

    def _lookup(self, target: str, source: str, stamp_ns: int) -> Any:
        """TF at the message stamp, waiting up to tf.timeout; LookupError when unavailable."""
        model = self.model
        if model is None:
            raise LookupError("node not configured")
        try:
            transform = model.tf_buffer.lookup_transform(
                target,
                source,
                Time(nanoseconds=stamp_ns),
                timeout=Duration(nanoseconds=seconds_to_ns(model.config.tf.timeout)),
            )
        except tf2_ros.TransformException as error:
            raise LookupError(f"TF {source} -> {target}: {error}") from None
        return transform_to_matrix(transform.transform, "/tf")

    def _process(self, sensors: SensorSet) -> None:
        """Worker thread: run the pipeline, publish, account latency."""
        active, model = self.active, self.model
        if active is None or model is None:
            return
        output = model.pipeline.process(sensors)
        if output is None:
            return
        self._publish(active, output)
        stamp_ns = sensors.stamp_ns
        latency = (self.get_clock().now().nanoseconds - stamp_ns) * 1e-9
        model.pipeline.latency.record("stamp_to_publish", latency)
        active.publishers["processing"].publish(Float64(data=output.timings["processing"] * 1e3))
        active.publishers["latency"].publish(Float64(data=latency * 1e3))

    def _publish(self, active: _Active, output: PipelineOutput) -> None:
        active.publishers["occupancy"].publish(output.occupancy)
        for key in ("markers", "voxels"):
            message = getattr(output, key)
            if key in active.publishers and message is not None:
                active.publishers[key].publish(message)

    def _publish_diagnostics(self) -> None:
        active, model = self.active, self.model
        if active is None or model is None:
            return
        message = DiagnosticArray(status=[self._status(active, model)])
        message.header.stamp = self.get_clock().now().to_msg()
        active.publishers["diagnostics"].publish(message)

    def _status(self, active: _Active, model: _Model) -> DiagnosticStatus:
        pipeline = model.pipeline
        counters, assembler = pipeline.counters, pipeline.assembler
        values: dict[str, Any] = {
            "frames": counters.frames,
            "skipped_frames": counters.skipped,
            "dropped_frames (busy)": self.worker.dropped,
            "idle_frames (no subscribers)": active.idle_frames,
            "refused_stamps": sum(active.gate.refused.values()),
            **{f"refused_stamps {t}": n for t, n in sorted(active.gate.refused.items())},
            **{f"received {t}": n for t, n in sorted(active.gate.received.items())},
            **{
                f"reliable {stream.topic}": stream.reliable
                for stream in sorted(active.inputs, key=lambda s: s.topic)
            },
            "qos_mismatches": sum(active.qos_mismatches.values()),
            "lost_messages": sum(active.lost_messages.values()),
            "fallback_extrinsics": assembler.used_fallback_extrinsics,
            "single_scan_fallbacks": assembler.single_scan_fallbacks,
            "dropped_history_clouds": assembler.dropped_history_clouds,
            "uncompensated_cameras": assembler.uncompensated_cameras,
            "device": str(pipeline.runner.device),
            "cpu_threads": pipeline.runner.cpu_threads(),
        }
        for stage, stats in pipeline.latency.summary().items():
            values[f"{stage} p50 ms"] = round(stats["p50_ms"], 1)
        problems = []
        if counters.skipped and counters.last_error:
            problems.append(f"last skipped frame: {counters.last_error}")
        if active.gate.refused:
            problems.append(f"last refused message: {active.gate.last_error}")
        if active.qos_mismatches:
            problems.append(f"QoS mismatch on {sorted(active.qos_mismatches)}")
        if active.lost_messages:
            problems.append(f"messages lost on {sorted(active.lost_messages)}")
        return DiagnosticStatus(
            level=DiagnosticStatus.WARN if problems else DiagnosticStatus.OK,
            name="occle: semantic occupancy",
            hardware_id=str(pipeline.runner.device),
            message="; ".join(problems)[:300] or "running",
            values=[KeyValue(key=k, value=str(v)) for k, v in values.items()],
        )


def _semantic_occupancy_class() -> Any:
    """The generated message class (built by colcon: see CMakeLists.txt).

    Raises:
        MessageError: the package was installed without its messages (pip, not colcon).
    """
    try:
        from occle_ros.msg import SemanticOccupancy
    except ImportError as error:
        raise MessageError(
            "occle_ros/msg/SemanticOccupancy",
            "message module",
            f"not importable ({error})",
            "a colcon build of occle_ros, sourced (install/setup.bash)",
        ) from None
    return SemanticOccupancy


def _spin(executor: MultiThreadedExecutor, node: OccleNode) -> None:
    """The executor's thread: spin until shutdown (Ctrl-C, `ros2 lifecycle set shutdown` does
    not end the process), then end the inference loop."""
    try:
        executor.spin()
    except ExternalShutdownException:
        pass
    except Exception as error:  # anything rclpy lets escape a callback ends the node, said
        node.get_logger().fatal(f"executor stopped: {error!r}")
    finally:
        node.worker.stop()


def main(args: list[str] | None = None) -> None:
    """Entry point of the `occle_node` executable (a lifecycle node, unconfigured at start)."""
    rclpy.init(args=args)
    node = OccleNode()
    # Several threads: TF lookups in the inference wait while the executor keeps receiving /tf.
    executor = MultiThreadedExecutor(num_threads=3)
    executor.add_node(node)
    spinner = threading.Thread(target=_spin, args=(executor, node), name="occle-executor")
    spinner.start()
    try:
        node.worker.run()  # inference on the main thread (see the module docstring)
    except KeyboardInterrupt:
        pass
    finally:
        rclpy.try_shutdown()  # ends the executor's spin if the main thread ended first
        spinner.join(timeout=10)
        node._deactivate()
        node._cleanup()
        executor.shutdown()
        node.destroy_node()


if __name__ == "__main__":
    main()
