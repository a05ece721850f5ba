"""Which topics of a bag feed the pipeline: the command line's, else the node parameters' when
the bag has them, else the only topic of the right type."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from occle_core.errors import DataFormatError
from occle_ros.pipeline.config import NodeConfig, TopicParams


@dataclass(frozen=True)
class TopicChoice:
    """Input topics named on the command line (`occle bag-eval --cloud-topic ...`); None =
    let `resolve_topics` choose.

    Attributes:
        cloud: the PointCloud2 topic.
        images: one image topic per camera, in the model's camera order.
        camera_infos: one CameraInfo topic per camera, same order.
    """

    cloud: str | None = None
    images: Sequence[str] | None = None
    camera_infos: Sequence[str] | None = None


def _topics_of_type(reader: Any, msgtype: str) -> list[str]:
    return sorted({c.topic for c in reader.connections if c.msgtype == msgtype})


def _pick(given: str | None, param: str, candidates: list[str], what: str, bag: Path) -> str:
    """A topic: the flag, else the parameter when it is a global name present in the bag, else
    the only topic of the right type."""
    if given:
        if given not in candidates:
            raise DataFormatError(bag, f"no {what} topic {given!r}", f"one of {candidates}")
        return given
    if not param.startswith("~") and param in candidates:
        return param
    if len(candidates) == 1:
        return candidates[0]
    raise DataFormatError(
        bag,
        f"cannot tell which {what} topic to use (parameter {param!r}, bag has {candidates})",
        f"--{what.replace(' ', '-')}-topic",
    )


def resolve_topics(
    reader: Any,
    bag: Path,
    config: NodeConfig,
    choice: TopicChoice = TopicChoice(),
) -> TopicParams:
    """Which bag topics feed the pipeline (flags > node parameters > the unique candidate).

    Args:
        reader: an open rosbags `AnyReader` of the bag.
        bag: its path (for errors).
        config: node parameters; `topics` gives the defaults and the number of cameras.
        choice: topics named on the command line.

    Returns:
        `config.topics` with the chosen input topics (outputs unchanged).

    Raises:
        DataFormatError: a named topic is not in the bag, or the choice is ambiguous.
    """
    cloud, images, infos = choice.cloud, choice.images, choice.camera_infos
    clouds = _topics_of_type(reader, "sensor_msgs/msg/PointCloud2")
    raw = _topics_of_type(reader, "sensor_msgs/msg/Image")
    compressed = _topics_of_type(reader, "sensor_msgs/msg/CompressedImage")
    all_infos = _topics_of_type(reader, "sensor_msgs/msg/CameraInfo")
    count = len(config.topics.images)
    use_compressed = config.topics.compressed or (not raw and bool(compressed))
    image_candidates = compressed if use_compressed else raw
    if images:
        if len(images) != count:
            raise DataFormatError(
                bag, f"{len(images)} --image-topic", f"{count} (the model's cameras)"
            )
        use_compressed = all(t in compressed for t in images)
        image_candidates = compressed if use_compressed else raw
    chosen_images = tuple(
        _pick(
            images[i] if images else None, config.topics.images[i], image_candidates, "image", bag
        )
        for i in range(count)
    )
    chosen_infos = tuple(
        _pick(
            infos[i] if infos else None,
            config.topics.camera_infos[i],
            all_infos,
            "camera info",
            bag,
        )
        for i in range(count)
    )
    chosen_cloud = _pick(cloud, config.topics.cloud, clouds, "cloud", bag)
    return dataclasses.replace(
        config.topics,
        cloud=chosen_cloud,
        images=chosen_images,
        camera_infos=chosen_infos,
        compressed=use_compressed,
    )
