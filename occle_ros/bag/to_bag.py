"""A SemanticKITTI-format sequence (real or synthetic) -> a rosbag2 a robot could have recorded:
PointCloud2, Image (or CompressedImage) + CameraInfo per camera, /tf (odometry) and /tf_static
(camera extrinsics), at the sequence's own stamps."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from occle_core.data.semantickitti.sequence import SemanticKittiSequence
from occle_core.errors import DataFormatError
from occle_ros.bag.writer import AtomicBagWriter
from occle_ros.conversions.camera import camera_info_message
from occle_ros.conversions.image import array_to_compressed, array_to_image
from occle_ros.conversions.pointcloud import array_to_cloud
from occle_ros.conversions.transform import transform_stamped
from occle_ros.messages import RosbagsFactory

#: Default first stamp: 2023-11-14 22:13:20 UTC, so bags have plausible wall-clock times and
#: the mapping stamp <-> frame is reproducible.
DEFAULT_START_NS = 1_700_000_000 * 1_000_000_000
SOURCE_TOPIC = "/occle/source"


@dataclass(frozen=True)
class BagTopics:
    """Topic and frame names written by `write_sequence_bag` (defaults match config/occle.yaml
    remapped for replay, see the README)."""

    cloud: str = "/velodyne_points"
    image: str = "/camera/{camera}/image_raw"
    camera_info: str = "/camera/{camera}/camera_info"
    lidar_frame: str = "velodyne"
    odom_frame: str = "odom"
    camera_frame: str = "{camera}_optical"


def camera_frame_name(topics: BagTopics, camera: str) -> str:
    return topics.camera_frame.format(camera=camera)


def write_sequence_bag(
    root: str | os.PathLike[str],
    sequence: str,
    out: str | os.PathLike[str],
    storage: Literal["mcap", "sqlite3"] = "mcap",
    compressed: bool = False,
    frames: list[int] | None = None,
    start_ns: int = DEFAULT_START_NS,
    topics: BagTopics = BagTopics(),
    distro: str = "humble",
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> Path:
    """Write a rosbag2 folder of a sequence.

    Stamps are `start_ns` + times.txt; /tf carries odom -> LiDAR from poses.txt; /tf_static
    carries LiDAR -> camera optical frame per camera; `/occle/source` (std_msgs/String, JSON)
    names the dataset, sequence and start so `occle bag-eval --gt` can match frames.

    Returns:
        The bag folder. It is written to a temporary sibling and renamed when complete, so a
        failed run leaves no half-written bag at `out`.

    Raises:
        FileExistsError: `out` exists.
    """
    seq = SemanticKittiSequence(root, sequence)
    ids = frames if frames is not None else seq.scan_ids
    missing = sorted(set(ids) - set(seq.scan_ids))
    if missing:
        raise DataFormatError(seq.path, f"no scans {missing[:5]}", "frame numbers of the sequence")
    bag = AtomicBagWriter(out, storage, distro)
    factory = RosbagsFactory(bag.store)
    first = seq.frame(ids[0], load_image=True)
    cameras = first.cameras
    image_type = "sensor_msgs/msg/CompressedImage" if compressed else "sensor_msgs/msg/Image"
    image_topic = topics.image + ("/compressed" if compressed else "")
    with bag:
        bag.connect(topics.cloud, "sensor_msgs/msg/PointCloud2")
        for camera in cameras:
            bag.connect(image_topic.format(camera=camera.name), image_type)
            bag.connect(topics.camera_info.format(camera=camera.name), "sensor_msgs/msg/CameraInfo")
        connect_common_topics(bag)
        times = seq.times
        first_stamp = start_ns + round(float(times[ids[0]]) * 1e9)
        statics = [
            transform_stamped(
                factory,
                c.ref_from_cam,
                first_stamp,
                topics.lidar_frame,
                camera_frame_name(topics, c.name),
            )
            for c in cameras
        ]
        bag.write(
            "/tf_static", first_stamp, factory.new("tf2_msgs/msg/TFMessage", transforms=statics)
        )
        source = {
            "layout": "semantickitti",
            "dataset": str(Path(root).resolve()),
            "sequence": seq.sequence,
            "start_ns": start_ns,
        }
        write_source(bag, factory, first_stamp, source)
        for done, index in enumerate(ids):
            frame = seq.frame(index, load_image=True)
            stamp = start_ns + round(float(times[index]) * 1e9)
            odom = transform_stamped(
                factory, frame.pose, stamp, topics.odom_frame, topics.lidar_frame
            )
            bag.write("/tf", stamp, factory.new("tf2_msgs/msg/TFMessage", transforms=[odom]))
            bag.write(
                topics.cloud,
                stamp,
                array_to_cloud(factory, frame.points, stamp, topics.lidar_frame),
            )
            for camera, image in zip(frame.cameras, frame.images, strict=True):
                name = camera_frame_name(topics, camera.name)
                make = array_to_compressed if compressed else array_to_image
                bag.write(
                    image_topic.format(camera=camera.name), stamp, make(factory, image, stamp, name)
                )
                info = camera_info_message(
                    factory, camera.intrinsics, camera.width, camera.height, stamp, name
                )
                bag.write(topics.camera_info.format(camera=camera.name), stamp, info)
            progress(done + 1, len(ids))
    return bag.out


def connect_common_topics(bag: AtomicBagWriter) -> None:
    """/tf, /tf_static (latched) and the latched `/occle/source` description."""
    bag.connect("/tf", "tf2_msgs/msg/TFMessage")
    bag.connect("/tf_static", "tf2_msgs/msg/TFMessage", latched=True)
    bag.connect(SOURCE_TOPIC, "std_msgs/msg/String", latched=True)


def write_source(bag: AtomicBagWriter, factory: Any, stamp_ns: int, source: dict[str, Any]) -> None:
    """The `/occle/source` message: JSON naming the dataset the bag was made from, so
    `occle bag-eval --gt` can find the ground truth of each frame."""
    bag.write(SOURCE_TOPIC, stamp_ns, factory.new("std_msgs/msg/String", data=json.dumps(source)))


def frame_of_stamp(
    times: np.ndarray, start_ns: int, stamp_ns: int, tolerance_ns: int = 1_000_000
) -> int | None:
    """Index of the times.txt entry a stamp written by `write_sequence_bag` came from."""
    offsets = start_ns + np.round(times * 1e9).astype(np.int64)
    index = int(np.argmin(np.abs(offsets - stamp_ns)))
    return index if abs(int(offsets[index]) - stamp_ns) <= tolerance_ns else None
