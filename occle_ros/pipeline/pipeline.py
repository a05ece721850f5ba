"""One synchronised set of messages in, the output messages out: the logic of the node and of
`occle bag-eval`, with no rclpy import."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from occle_core.occupancy import OccupancyGrid
from occle_core.runtime import ModelRunner
from occle_core.viz.palette import class_colors
from occle_ros.conversions.markers import VoxelPointCache, grid_to_cloud, grid_to_markers
from occle_ros.conversions.occupancy import grid_to_message
from occle_ros.errors import MessageError
from occle_ros.messages import MessageFactory
from occle_ros.pipeline.config import NodeConfig
from occle_ros.pipeline.frames import FrameAssembler, TransformLookup
from occle_ros.pipeline.latency import LatencyStats
from occle_ros.pipeline.sensors import SensorSet


class Logger(Protocol):
    """What the pipeline logs through (Python's logging.Logger and rclpy's logger fit)."""

    def info(self, message: str) -> Any: ...
    def warning(self, message: str) -> Any: ...
    def error(self, message: str) -> Any: ...


@dataclass
class PipelineOutput:
    """Result of one frame.

    Attributes:
        grid: the predicted occupancy.
        occupancy: SemanticOccupancy message.
        markers: MarkerArray, or None when off.
        voxels: PointCloud2 of occupied voxel centres, or None when off.
        timings: stage -> seconds (convert, inference, encode, processing).
    """

    grid: OccupancyGrid
    occupancy: Any
    markers: Any | None
    voxels: Any | None
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class PipelineCounters:
    frames: int = 0
    skipped: int = 0
    last_error: str = ""


class OccupancyPipeline:
    """Messages -> Frame -> model -> OccupancyGrid -> output messages.

    Args:
        runner: the model.
        config: node parameters.
        factory: builds the output messages (rclpy or rosbags classes).
        lookup: TF lookup at a stamp.
        logger: where skips and warnings go.
    """

    def __init__(
        self,
        runner: ModelRunner,
        config: NodeConfig,
        factory: MessageFactory,
        lookup: TransformLookup,
        logger: Logger | None = None,
    ):
        self.runner = runner
        self.config = config
        self.factory = factory
        self.logger: Logger = logger or logging.getLogger("occle_ros")
        num_cameras = len(config.topics.images)
        if num_cameras != runner.config.num_cameras:
            raise ValueError(
                f"topics.images lists {num_cameras} camera(s), the model expects "
                f"{runner.config.num_cameras}"
            )
        values = np.asarray(config.tf.cam_from_lidar, dtype=np.float64)
        self.assembler = FrameAssembler(
            grid_frame=config.tf.grid_frame or runner.config.grid.frame_id,
            topics=config.topics,
            lookup=lookup,
            cam_from_lidar=list(values.reshape(-1, 4, 4)) if values.size else [],
            scans=config.input.scans,
            fixed_frame=config.tf.fixed_frame,
            intensity_field=config.input.intensity_field,
            intensity_scale=config.input.intensity_scale,
            history_min_range=config.input.history_min_range,
            newest_first=config.input.newest_first,
            camera_time_compensation=config.tf.camera_time_compensation,
        )
        self.colors = class_colors(runner.class_names)
        self.marker_points = VoxelPointCache(factory)
        self.latency = LatencyStats()
        self.counters = PipelineCounters()

    def observe_cloud(self, cloud: Any) -> None:
        """Feed every message of the LiDAR topic here, synchronised or not: with `input.scans`
        > 1 the clouds received between camera sets (LiDAR sweeps) join the next frame."""
        self.assembler.observe(cloud)

    def process(self, sensors: SensorSet) -> PipelineOutput | None:
        """Run one synchronised set.

        A malformed message or a missing transform is logged and the set skipped (None);
        nothing raised by the inputs escapes.
        """
        started = time.perf_counter()
        try:
            if len(sensors.images) != len(self.config.topics.images):
                raise ValueError(
                    f"a set with {len(sensors.images)} camera(s), topics.images lists "
                    f"{len(self.config.topics.images)}"
                )
            frame = self.assembler.assemble(
                sensors.cloud, list(sensors.images), list(sensors.camera_infos)
            )
        except (MessageError, LookupError, ValueError) as error:
            self.counters.skipped += 1
            self.counters.last_error = str(error)
            self.logger.warning(f"skipped a frame: {error}")
            return None
        converted = time.perf_counter()
        prediction = self.runner.predict(frame, self.config.output.confidence)
        inferred = time.perf_counter()
        stamp_ns = sensors.stamp_ns
        grid = self.runner.grid(
            prediction, stamp_ns * 1e-9, frame.frame_id, self.assembler.grid_frame
        )
        output = self.encode(grid, stamp_ns)
        done = time.perf_counter()
        output.timings = {
            "convert": converted - started,
            "inference": inferred - converted,
            "encode": done - inferred,
            "processing": done - started,
        }
        for stage, seconds in output.timings.items():
            self.latency.record(stage, seconds)
        self.counters.frames += 1
        return output

    def encode(self, grid: OccupancyGrid, stamp_ns: int) -> PipelineOutput:
        """The output messages of a grid."""
        out = self.config.output
        topics = self.config.topics
        occupancy = grid_to_message(self.factory, grid, out.encoding, stamp_ns)
        markers = None
        if topics.markers:
            markers = grid_to_markers(
                self.factory, grid, self.colors, stamp_ns, out.max_markers, cache=self.marker_points
            )
        voxels = grid_to_cloud(self.factory, grid, stamp_ns) if topics.voxels else None
        return PipelineOutput(grid, occupancy, markers, voxels)
