"""One synchronised set of sensor messages (a LiDAR cloud, an image and a CameraInfo per camera)
and the synchroniser input names it is gathered under."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from occle_ros.messages import stamp_to_ns
from occle_ros.pipeline.config import TopicParams

#: Synchroniser input name of the LiDAR cloud; cameras are "image<i>" and "info<i>".
CLOUD_INPUT = "cloud"


def sync_inputs(num_cameras: int) -> list[str]:
    """Names of the synchroniser inputs, in the order the node subscribes them (the order of
    message_filters' callback arguments): cloud, then image and camera info of every camera."""
    names = [CLOUD_INPUT]
    for index in range(num_cameras):
        names += [f"image{index}", f"info{index}"]
    return names


def inputs_of_topics(topics: TopicParams) -> dict[str, list[str]]:
    """Topic -> the synchroniser inputs it feeds (one topic may feed several, e.g. one
    CameraInfo topic shared by two cameras)."""
    names = sync_inputs(len(topics.images))
    feeds: dict[str, list[str]] = {}
    for topic, name in zip(input_topics(topics), names, strict=True):
        feeds.setdefault(topic, []).append(name)
    return feeds


def input_topics(topics: TopicParams) -> list[str]:
    """The input topics in `sync_inputs` order: cloud, then image and camera info per camera
    (the node subscribes them in this order)."""
    ordered = [topics.cloud]
    for image, info in zip(topics.images, topics.camera_infos, strict=True):
        ordered += [image, info]
    return ordered


@dataclass(frozen=True)
class SensorSet:
    """The messages of one synchronised set (rclpy or rosbags message objects).

    Attributes:
        cloud: the LiDAR sensor_msgs/PointCloud2.
        images: one sensor_msgs/Image or CompressedImage per camera, in the model's camera order.
        camera_infos: one sensor_msgs/CameraInfo per camera, same order.
    """

    cloud: Any
    images: tuple[Any, ...]
    camera_infos: tuple[Any, ...]

    def __post_init__(self) -> None:
        if len(self.images) != len(self.camera_infos):
            raise ValueError(
                f"SensorSet: {len(self.images)} images but {len(self.camera_infos)} camera infos"
            )

    @property
    def stamp_ns(self) -> int:
        """The set's stamp: the cloud's header stamp (the grid is placed at it)."""
        return stamp_to_ns(self.cloud.header.stamp)

    @classmethod
    def from_synced(cls, messages: Sequence[Any]) -> SensorSet:
        """A set from messages in `sync_inputs` order (cloud, image0, info0, image1, ...), as
        message_filters passes them to its callback."""
        if len(messages) % 2 != 1:
            raise ValueError(
                f"SensorSet.from_synced: {len(messages)} messages, expected a cloud then an "
                "image and a camera info per camera"
            )
        return cls(messages[0], tuple(messages[1::2]), tuple(messages[2::2]))

    @classmethod
    def from_named(cls, messages: Mapping[str, Any]) -> SensorSet:
        """A set from {synchroniser input name: message} (see `sync_inputs`)."""
        names = sync_inputs((len(messages) - 1) // 2)
        missing = [name for name in names if name not in messages]
        if missing or len(names) != len(messages):
            raise ValueError(f"SensorSet.from_named: inputs {sorted(messages)}, expected {names}")
        return cls.from_synced([messages[name] for name in names])
