"""Offline replay of a rosbag2 (sqlite3 or mcap) through the node's pipeline: frames/s,
latency, scores against ground truth, and an mcap of the outputs for Foxglove/RViz."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from occle_core.errors import DataFormatError
from occle_core.eval.occ3d import Occ3DScores
from occle_core.eval.semantickitti import SSCScores
from occle_core.runtime import ModelRunner
from occle_ros.bag.ground_truth import open_ground_truth
from occle_ros.bag.tf_buffer import TransformBuffer
from occle_ros.bag.to_bag import SOURCE_TOPIC
from occle_ros.bag.topic_selection import TopicChoice, resolve_topics
from occle_ros.bag.writer import AtomicBagWriter
from occle_ros.errors import MessageError
from occle_ros.messages import typestore
from occle_ros.pipeline.config import NodeConfig, TopicParams
from occle_ros.pipeline.pipeline import OccupancyPipeline, PipelineOutput
from occle_ros.pipeline.sensors import SensorSet, inputs_of_topics, sync_inputs
from occle_ros.pipeline.stamps import StampGate
from occle_ros.pipeline.sync import ApproximateTimeSync, seconds_to_ns

OUTPUT_TOPICS = {
    "occupancy": ("/occle/occupancy", "occle_ros/msg/SemanticOccupancy"),
    "markers": ("/occle/markers", "visualization_msgs/msg/MarkerArray"),
    "voxels": ("/occle/voxels", "sensor_msgs/msg/PointCloud2"),
}


@dataclass
class ReplayReport:
    """What a replay measured.

    Attributes:
        frames: frames predicted.
        skipped: synchronised sets skipped (bad message, missing transform).
        unsynced: input messages that never found partners (or came out of order).
        wall_seconds: replay time (reading, conversions, inference, encoding, writing).
        latency: stage -> {count, mean_ms, p50_ms, p95_ms, max_ms}.
        scores: SSC or Occ3D scores against the ground truth, when given.
        scored_frames: stamps matched to ground-truth frames.
        bad_messages: topic -> messages skipped before pairing: bytes that do not
            deserialise, bad transforms, stamps refused (zero, invalid, ahead of the log time by
            more than `input.max_stamp_lead`).
    """

    frames: int = 0
    skipped: int = 0
    unsynced: int = 0
    wall_seconds: float = 0.0
    latency: dict[str, dict[str, float]] = field(default_factory=dict)
    scores: SSCScores | Occ3DScores | None = None
    scored_frames: list[int] = field(default_factory=list)
    bad_messages: dict[str, int] = field(default_factory=dict)

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.wall_seconds if self.wall_seconds > 0 else 0.0


def replay_bag(
    bag: str | os.PathLike[str],
    runner: ModelRunner,
    config: NodeConfig,
    topics: TopicChoice | None = None,
    gt_root: str | os.PathLike[str] | None = None,
    gt_sequence: str | None = None,
    out: str | os.PathLike[str] | None = None,
    with_inputs: bool = False,
    progress: Callable[[int], None] = lambda frames: None,
    gt_layout: str | None = None,
    gt_info_file: str | None = None,
) -> ReplayReport:
    """Replay a bag through `OccupancyPipeline` (every synchronised set, in bag order).

    Args:
        bag: rosbag2 folder or .mcap file.
        runner: the model.
        config: node parameters (topics, sync, tf, input, output).
        topics: input topics named by the caller (default: chosen by `resolve_topics`).
        gt_root: dataset root with voxel ground truth to score against.
        gt_sequence: its sequence or scene (default: the one `/occle/source` in the bag names).
        gt_layout: "semantickitti" or "occ3d" (default: `/occle/source`'s, else semantickitti).
        gt_info_file: the Occ3D info file listing the scene (default: `/occle/source`'s).
        out: write the outputs (and with `with_inputs` the inputs and TF) to this mcap bag.

    Raises:
        DataFormatError: unreadable bag, ambiguous or missing topics.
    """
    from rosbags.highlevel import AnyReader

    bag = Path(bag)
    started = time.perf_counter()
    report = ReplayReport()
    try:
        reader = AnyReader([bag], default_typestore=typestore("humble"))
        reader.open()
    except Exception as error:  # rosbags raises its own reader errors for corrupt files
        raise DataFormatError(bag, f"not a readable rosbag2 ({error})") from None
    try:
        chosen = resolve_topics(
            reader,
            bag,
            config,
            topics or TopicChoice(),
        )
        outputs = _OutputWriter(Path(out)) if out is not None else None
        with outputs if outputs is not None else contextlib.nullcontext():
            copy = outputs.copy if outputs is not None and with_inputs else None
            source_info = _read_source_info(reader)
            tf = TransformBuffer()
            pipeline_config = dataclasses.replace(config, topics=chosen)
            pipeline = OccupancyPipeline(runner, pipeline_config, _factory(), tf.lookup)
            ground_truth = None
            if gt_root is not None:
                ground_truth = open_ground_truth(
                    bag, runner, gt_root, source_info, gt_sequence, gt_layout, gt_info_file
                )
            sync = _replay_sync(pipeline_config, chosen)
            gate = StampGate(seconds_to_ns(config.input.max_stamp_lead))

            def process(sensors: SensorSet, timestamp: int) -> None:
                result = pipeline.process(sensors)
                if result is None:
                    return
                if ground_truth is not None:
                    scored = ground_truth.add(result.grid)
                    if scored is not None:
                        report.scored_frames.append(scored)
                if outputs is not None:
                    outputs.write(result, timestamp)
                progress(pipeline.counters.frames)

            skipped = _replay_messages(
                reader, chosen, sync, gate, tf, pipeline, process, copy, config
            )
            report.bad_messages = dict(skipped)
        report.frames = pipeline.counters.frames
        report.skipped = pipeline.counters.skipped
        report.unsynced = sum(sync.stats.received.values()) - sync.stats.emitted * len(sync.inputs)
        report.latency = pipeline.latency.summary()
        if ground_truth is not None:
            report.scores = ground_truth.scores()
    finally:
        reader.close()
    report.wall_seconds = time.perf_counter() - started
    return report


def _read_source_info(reader: Any) -> dict[str, Any]:
    """The bag's /occle/source description (dataset, sequence, layout), or {}."""
    connections = [c for c in reader.connections if c.topic == SOURCE_TOPIC]
    if not connections:  # rosbags reads every topic when given none
        return {}
    for connection, _, data in reader.messages(connections=connections):
        try:
            info = json.loads(reader.deserialize(data, connection.msgtype).data)
        except Exception as error:  # undecodable bytes or JSON: no description
            print(f"bag-eval: skipped a {SOURCE_TOPIC} message: {error}")
            continue
        if isinstance(info, dict):
            return info
    return {}


def _replay_sync(config: NodeConfig, chosen: TopicParams) -> ApproximateTimeSync:
    """The synchroniser of the node's inputs (cloud, then image and info of every camera), with
    the node's slop and queue (emitted sets are collected by `_replay_messages`)."""
    return ApproximateTimeSync(
        sync_inputs(len(chosen.images)),
        seconds_to_ns(config.sync.slop),
        config.sync.queue_size,
        lambda messages: None,
    )


def _replay_messages(
    reader: Any,
    chosen: TopicParams,
    sync: ApproximateTimeSync,
    gate: StampGate,
    tf: TransformBuffer,
    pipeline: OccupancyPipeline,
    process: Callable[[SensorSet, int], None],
    copy: Callable[[Any, int, bytes], None] | None,
    config: NodeConfig,
) -> Counter[str]:
    """Feed the bag to the pipeline in log-time order, as the live node receives it; returns
    the messages skipped (undecodable bytes, bad transforms, refused stamps) per topic.

    /tf and /tf_static enter the TF buffer as they come (so it ages samples out as tf2 does);
    sensor messages pass the stamp check, then the synchroniser; the cloud topic is also the
    pipeline's history. A completed set is processed once the bag's clock has passed its
    completion by `tf.timeout`, the time the node's TF lookups would wait for late transforms.
    """
    names = inputs_of_topics(chosen)
    tf_topics = ("/tf", "/tf_static")
    connections = [c for c in reader.connections if c.topic in names or c.topic in tf_topics]
    skipped: Counter[str] = Counter()
    emitted: list[dict[str, Any]] = []
    sync.callback = emitted.append
    pending: deque[tuple[int, int, SensorSet]] = deque()  # (due, completed, set)
    wait_ns = seconds_to_ns(config.tf.timeout)
    for connection, timestamp, data in reader.messages(connections=connections):
        while pending and pending[0][0] < timestamp:
            _, completed, messages = pending.popleft()
            process(messages, completed)
        if copy is not None:
            copy(connection, timestamp, data)
        try:
            message: Any = reader.deserialize(data, connection.msgtype)
        except Exception as error:  # any failure of rosbags on bytes from the file
            skipped[connection.topic] += 1
            print(
                f"bag-eval: skipped a {connection.topic} message: does not deserialise ({error!r})"
            )
            continue
        if connection.topic in tf_topics:
            try:
                tf.add_tf_message(message, connection.topic == "/tf_static", connection.topic)
            except MessageError as error:
                skipped[connection.topic] += 1
                print(f"bag-eval: skipped a {connection.topic} message: {error}")
            continue
        stamp_ns = gate.check(message, connection.topic, timestamp)
        if stamp_ns is None:
            skipped[connection.topic] += 1
            print(f"bag-eval: skipped a {connection.topic} message: {gate.last_error}")
            continue
        if connection.topic == chosen.cloud:
            pipeline.observe_cloud(message)
        for name in names[connection.topic]:
            sync.add(name, stamp_ns, message)
        pending.extend(
            (timestamp + wait_ns, timestamp, SensorSet.from_named(messages)) for messages in emitted
        )
        emitted.clear()
    for _, completed, messages in pending:
        process(messages, completed)
    return skipped


def _factory() -> Any:
    from occle_ros.messages import RosbagsFactory

    return RosbagsFactory(typestore("humble"))


class _OutputWriter:
    """The replay's outputs (and with `--with-inputs` its inputs and TF) as an mcap bag, through
    the shared `AtomicBagWriter` (nothing half-written at `out`)."""

    def __init__(self, out: Path):
        self.bag = AtomicBagWriter(out, "mcap", "humble")

    def __enter__(self) -> _OutputWriter:
        self.bag.__enter__()
        for topic, msgtype in OUTPUT_TOPICS.values():
            self.bag.connect(topic, msgtype)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.bag.__exit__(*exc)

    def write(self, output: PipelineOutput, timestamp: int) -> None:
        for key, (topic, _) in OUTPUT_TOPICS.items():
            message = getattr(output, key)
            if message is not None:
                self.bag.write(topic, timestamp, message)

    def copy(self, connection: Any, timestamp: int, data: bytes) -> None:
        if not self.bag.connected(connection.topic):
            latched = connection.topic in ("/tf_static", SOURCE_TOPIC)
            self.bag.connect(connection.topic, connection.msgtype, latched)
        self.bag.write_raw(connection.topic, timestamp, data)
