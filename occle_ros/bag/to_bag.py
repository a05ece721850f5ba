"""A SemanticKITTI-format sequence (real or synthetic) -> a rosbag2 a robot could have recorded:
PointCloud2, Image (or CompressedImage) + CameraInfo per camera, /tf (odometry) and /tf_static
(camera extrinsics), at the sequence's own stamps."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from occle_core.data.semantickitti.sequence import SemanticKittiSequence
from occle_core.errors import DataFormatError
from occle_ros.bag.qos import qos
from occle_ros.conversions.camera import camera_info_message
from occle_ros.conversions.image import array_to_compressed, array_to_image
from occle_ros.conversions.pointcloud import array_to_cloud
from occle_ros.conversions.transform import transform_stamped
from occle_ros.messages import RosbagsFactory, typestore

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
    from rosbags.rosbag2 import StoragePlugin, Writer

    out = Path(out)
    if out.exists():
        raise FileExistsError(f"{out}: already exists; remove it or choose another --out")
    seq = SemanticKittiSequence(root, sequence)
    ids = frames if frames is not None else seq.scan_ids
    missing = sorted(set(ids) - set(seq.scan_ids))
    if missing:
        raise DataFormatError(seq.path, f"no scans {missing[:5]}", "frame numbers of the sequence")
    store = typestore(distro)
    factory = RosbagsFactory(store)
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    first = seq.frame(ids[0], load_image=True)
    cameras = first.cameras
    with Writer(partial, version=8, storage_plugin=plugin) as writer:

        def connect(topic: str, msgtype: str, latched: bool = False) -> Any:
            return writer.add_connection(
                topic, msgtype, typestore=store, offered_qos_profiles=[qos(latched)]
            )

        cloud_c = connect(topics.cloud, "sensor_msgs/msg/PointCloud2")
        image_type = "sensor_msgs/msg/CompressedImage" if compressed else "sensor_msgs/msg/Image"
        image_topic = topics.image + ("/compressed" if compressed else "")
        image_cs = [connect(image_topic.format(camera=c.name), image_type) for c in cameras]
        info_cs = [
            connect(topics.camera_info.format(camera=c.name), "sensor_msgs/msg/CameraInfo")
            for c in cameras
        ]
        tf_c = connect("/tf", "tf2_msgs/msg/TFMessage")
        static_c = connect("/tf_static", "tf2_msgs/msg/TFMessage", latched=True)
        source_c = connect(SOURCE_TOPIC, "std_msgs/msg/String", latched=True)

        def write(connection: Any, stamp: int, message: Any) -> None:
            writer.write(connection, stamp, store.serialize_cdr(message, message.__msgtype__))

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
        write(static_c, first_stamp, factory.new("tf2_msgs/msg/TFMessage", transforms=statics))
        source = {
            "dataset": str(Path(root).resolve()),
            "sequence": seq.sequence,
            "start_ns": start_ns,
        }
        write(source_c, first_stamp, factory.new("std_msgs/msg/String", data=json.dumps(source)))
        for done, index in enumerate(ids):
            frame = seq.frame(index, load_image=True)
            stamp = start_ns + round(float(times[index]) * 1e9)
            odom = transform_stamped(
                factory, frame.pose, stamp, topics.odom_frame, topics.lidar_frame
            )
            write(tf_c, stamp, factory.new("tf2_msgs/msg/TFMessage", transforms=[odom]))
            write(cloud_c, stamp, array_to_cloud(factory, frame.points, stamp, topics.lidar_frame))
            for camera, image, image_c, info_c in zip(
                frame.cameras, frame.images, image_cs, info_cs, strict=True
            ):
                name = camera_frame_name(topics, camera.name)
                make = array_to_compressed if compressed else array_to_image
                write(image_c, stamp, make(factory, image, stamp, name))
                info = camera_info_message(
                    factory, camera.intrinsics, camera.width, camera.height, stamp, name
                )
                write(info_c, stamp, info)
            progress(done + 1, len(ids))
    partial.rename(out)
    return out


def frame_of_stamp(
    times: np.ndarray, start_ns: int, stamp_ns: int, tolerance_ns: int = 1_000_000
) -> int | None:
    """Index of the times.txt entry a stamp written by `write_sequence_bag` came from."""
    offsets = start_ns + np.round(times * 1e9).astype(np.int64)
    index = int(np.argmin(np.abs(offsets - stamp_ns)))
    return index if abs(int(offsets[index]) - stamp_ns) <= tolerance_ns else None
