"""The node's parameters as one typed configuration.

ROS parameter names are the dotted field names of `NodeConfig` (``sync.slop``, ``model.device``)
so one source of truth serves the node, `occle bag-eval` and Python. Parameter files have the
usual ROS 2 layout (``<node name>: ros__parameters: {...}`` or ``/**:``), nested or dotted.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from occle_core.errors import DataFormatError
from occle_core.typed_config import from_mapping, read_yaml


@dataclass(frozen=True)
class ModelParams:
    """Attributes:
    config: model configuration (shipped name or path); "" = the one inside the checkpoint.
    checkpoint: OccLE checkpoint file (`occle train` output).
    device: "auto" (CUDA when available, else CPU with a warning), "cuda", "cuda:N" or "cpu".
    amp: "off" or "bf16"/"fp16" autocast for inference on CUDA.
    cpu_threads: torch's CPU threads for inference; 0 = all cores but one, which is left to
        the executor and DDS (on a 2-core machine the tiny model infers in 390 ms on one thread
        and 520 ms on two, whose OpenMP barriers wait for the ROS threads).
    mirror_occupancy: decide which voxels are occupied from each frame and its y-mirror
        together (two forward passes, about twice the inference time; the classes stay the
        frame's own; docs/training.md, lever 15). Needs a grid symmetric about
        y = 0 (every shipped model's is).
    """

    config: str = ""
    checkpoint: str = ""
    device: str = "auto"
    amp: Literal["off", "bf16", "fp16"] = "off"
    cpu_threads: int = 0
    mirror_occupancy: bool = False


@dataclass(frozen=True)
class TopicParams:
    """Attributes:
    cloud: LiDAR PointCloud2 topic.
    images: one image topic per camera, in the model's camera order.
    camera_infos: one CameraInfo topic per camera, same order.
    compressed: the image topics carry sensor_msgs/CompressedImage (jpeg/png).
    occupancy: output SemanticOccupancy topic.
    markers: output MarkerArray topic ("" = off).
    voxels: output PointCloud2 of occupied voxel centres ("" = off).
    """

    cloud: str = "~/input/pointcloud"
    images: tuple[str, ...] = ("~/input/image",)
    camera_infos: tuple[str, ...] = ("~/input/camera_info",)
    compressed: bool = False
    occupancy: str = "~/output/occupancy"
    markers: str = "~/output/markers"
    voxels: str = "~/output/voxels"


@dataclass(frozen=True)
class SyncParams:
    """Attributes:
    slop: a camera/LiDAR set is paired when the spread of its stamps is below this, seconds
        (0.05 suits 10 Hz sensors; message_filters' ApproximateTimeSynchronizer rule).
    queue_size: messages kept per input while waiting for partners.
    """

    slop: float = 0.05
    queue_size: int = 5


@dataclass(frozen=True)
class TfParams:
    """Attributes:
    timeout: how long a TF lookup at the message stamp may wait, seconds.
    fixed_frame: world-fixed frame (odom/map) used to aggregate past scans (`input.scans` > 1).
    cam_from_lidar: fallback extrinsics when TF has no answer: 16 row-major values per camera
        (camera optical frame from the LiDAR/grid frame), concatenated; empty = TF only.
    grid_frame: TF frame the model's voxel grid is defined in; "" = the model configuration's
        `grid.frame_id` (an Occ3D model's grid is the ego frame: base_link on most robots).
    camera_time_compensation: place each camera at its image's stamp and the grid at the
        cloud's, through `fixed_frame`, as nuScenes' calibration does (the vehicle moves up to
        0.4 m between its LiDAR and camera stamps); off = both at the cloud's stamp (KITTI).
    """

    timeout: float = 0.05
    fixed_frame: str = "odom"
    cam_from_lidar: tuple[float, ...] = ()
    grid_frame: str = ""
    camera_time_compensation: bool = False


@dataclass(frozen=True)
class InputParams:
    """Attributes:
    scans: LiDAR clouds aggregated per frame: the synchronised one and the clouds received just
        before it on the LiDAR topic, moved in through `tf.fixed_frame` (the model was trained
        with this many: SemanticKITTI models 3 scans, Occ3D models the key sweep + 4 sweeps).
    intensity_field: PointCloud2 field holding intensity.
    intensity_scale: factor bringing intensities to the training range (KITTI: 0..1; drivers
        publishing 0..255 need 1/255).
    history_min_range: metres; returns of the earlier clouds closer than this to their sensor
        are dropped (1.0 for nuScenes, whose sweeps hit the ego vehicle; 0 = keep all).
    newest_first: concatenate the clouds newest first, as nuScenes training data is (key sweep,
        then earlier sweeps); off = oldest first, as SemanticKITTI scans. Must match training:
        the voxel encoder keeps the first points of a crowded voxel.
    max_stamp_lead: seconds a header stamp may lie ahead of the node's clock (in a bag replay,
        of the message's log time); later stamps, and zero stamps, are refused and counted
        (0 = no lead check).
    """

    scans: int = 3
    intensity_field: str = "intensity"
    intensity_scale: float = 1.0
    history_min_range: float = 0.0
    newest_first: bool = False
    max_stamp_lead: float = 1.0


@dataclass(frozen=True)
class OutputParams:
    """Attributes:
    encoding: "sparse" or "dense" SemanticOccupancy.
    confidence: fill the message's confidence (softmax probability of the published class).
    max_markers: cap on RViz cubes, decimated evenly above it (0 = no cap).
    publish_without_subscribers: run inference even when no one listens (off: saves the GPU).
    """

    encoding: Literal["dense", "sparse"] = "sparse"
    confidence: bool = False
    max_markers: int = 20_000
    publish_without_subscribers: bool = False


@dataclass(frozen=True)
class QosParams:
    """Attributes:
    reliability: input subscription reliability: "auto" (the default: per topic, reliable while
        every publisher on it is reliable, so that large clouds and images arrive whole, and best
        effort as soon as one publisher is best effort, which a reliable subscription could not
        hear; re-decided when the publishers change), "best_effort" (the sensor-data profile:
        hears every publisher, loses any message one of whose fragments is lost) or "reliable"
        (a best-effort publisher is then incompatible and the node logs the QoS mismatch).
    depth: input history depth.
    """

    reliability: Literal["auto", "best_effort", "reliable"] = "auto"
    depth: int = 5


@dataclass(frozen=True)
class NodeConfig:
    """Every parameter of the occle node (see config/occle.yaml and the README table).

    Attributes:
        diagnostics_period: seconds between /diagnostics messages.
    """

    model: ModelParams = field(default_factory=ModelParams)
    topics: TopicParams = field(default_factory=TopicParams)
    sync: SyncParams = field(default_factory=SyncParams)
    tf: TfParams = field(default_factory=TfParams)
    input: InputParams = field(default_factory=InputParams)
    output: OutputParams = field(default_factory=OutputParams)
    qos: QosParams = field(default_factory=QosParams)
    diagnostics_period: float = 1.0

    def __post_init__(self) -> None:
        if len(self.topics.images) != len(self.topics.camera_infos):
            raise ValueError(
                f"topics.images has {len(self.topics.images)} topics and topics.camera_infos "
                f"{len(self.topics.camera_infos)}: expected one CameraInfo per image"
            )
        if self.tf.cam_from_lidar and len(self.tf.cam_from_lidar) != 16 * len(self.topics.images):
            raise ValueError(
                f"tf.cam_from_lidar has {len(self.tf.cam_from_lidar)} values, expected 16 per "
                f"camera ({16 * len(self.topics.images)})"
            )
        if self.model.cpu_threads < 0:
            raise ValueError(f"model.cpu_threads = {self.model.cpu_threads}: expected >= 0")
        if self.input.scans < 1 or self.sync.queue_size < 1 or self.sync.slop <= 0:
            raise ValueError("input.scans and sync.queue_size must be >= 1, sync.slop > 0")


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1} (ROS parameter names)."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    """{"a.b": 1} -> {"a": {"b": 1}}."""
    nested: dict[str, Any] = {}
    for name, value in flat.items():
        *parents, leaf = name.split(".")
        node = nested
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return nested


def node_config_from_parameters(
    parameters: Mapping[str, Any], source: str = "<parameters>"
) -> NodeConfig:
    """A `NodeConfig` from dotted ROS parameter names (unknown names are errors)."""
    try:
        return from_mapping(NodeConfig, nest(parameters), source)
    except ValueError as error:
        if isinstance(error, DataFormatError):
            raise
        raise DataFormatError(source, str(error)) from None


def load_node_config(path: str | os.PathLike[str], node_name: str = "occle") -> NodeConfig:
    """Read a ROS 2 parameter file (the `node_name` or ``/**`` section's ros__parameters)."""
    data = read_yaml(path)
    for section in (node_name, f"/{node_name}", "/**"):
        body = data.get(section)
        if isinstance(body, Mapping) and "ros__parameters" in body:
            return node_config_from_parameters(flatten(body["ros__parameters"]), str(path))
    raise DataFormatError(
        path,
        f"no '{node_name}: ros__parameters:' section",
        f"a ROS 2 parameter file for {node_name}",
    )


def parameter_defaults() -> dict[str, Any]:
    """Dotted name -> default value of every parameter (what the node declares)."""
    from occle_core.typed_config import to_mapping

    return flatten(to_mapping(NodeConfig()))


def shipped_node_params() -> Path:
    """The shipped node parameter file (config/occle.yaml in the source tree or installed)."""
    candidates = [
        Path(__file__).resolve().parents[2] / "config" / "occle.yaml",
        Path(sys.prefix) / "share" / "occle_ros" / "config" / "occle.yaml",
        Path(sys.prefix) / "share" / "occle" / "config" / "occle.yaml",
    ]
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError(f"config/occle.yaml not found in {[str(p) for p in candidates]}")
