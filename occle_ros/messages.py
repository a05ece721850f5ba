"""Building ROS 2 messages without depending on who defines their classes.

Conversions read messages by attribute (rclpy's generated classes and `rosbags`' dataclasses
have the same field names) and build them through a `MessageFactory`: `RosbagsFactory` for bag
files and tests (real ROS 2 definitions from rosbags' type stores, our own `.msg` files
registered), and the rclpy factory in `occle_ros.node` for the live node.
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

#: Our message types, as "package/msg/Name".
SEMANTIC_OCCUPANCY = "occle_ros/msg/SemanticOccupancy"
SUPPORTED_DISTROS = ("humble", "jazzy")


class MessageFactory(Protocol):
    """Creates ROS messages of a named type; fields not given take their ROS defaults."""

    def new(self, typename: str, **fields: Any) -> Any:
        """A message of `typename` ("sensor_msgs/msg/Image") with `fields` set."""
        ...


def msg_dirs() -> list[Path]:
    """Folders that may hold our `.msg` files: the source tree, then pip and colcon installs."""
    return [
        Path(__file__).resolve().parents[1] / "msg",
        Path(sys.prefix) / "share" / "occle_ros" / "msg",
    ]


def message_definitions() -> dict[str, str]:
    """ "occle_ros/msg/Name" -> `.msg` text of every message of this package."""
    for folder in msg_dirs():
        files = sorted(folder.glob("*.msg"))
        if files:
            return {f"occle_ros/msg/{f.stem}": f.read_text(encoding="utf-8") for f in files}
    raise FileNotFoundError(
        f"the occle_ros .msg files were not found in {[str(d) for d in msg_dirs()]}; "
        "reinstall the package"
    )


@cache
def typestore(distro: str = "humble") -> Any:
    """rosbags' type store of a ROS 2 distribution with the occle_ros messages registered.

    Raises:
        ValueError: an unsupported distribution.
        ModuleNotFoundError: rosbags is not installed (``pip install 'occle[ros]'``).
    """
    if distro not in SUPPORTED_DISTROS:
        raise ValueError(f"ROS distribution {distro!r}, expected one of {SUPPORTED_DISTROS}")
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    store = get_typestore(Stores.ROS2_HUMBLE if distro == "humble" else Stores.ROS2_JAZZY)
    for name, text in message_definitions().items():
        store.register(get_types_from_msg(text, name))
    return store


_NUMPY_TYPES = {
    "bool": np.bool_,
    "byte": np.uint8,
    "char": np.uint8,
    "int8": np.int8,
    "uint8": np.uint8,
    "int16": np.int16,
    "uint16": np.uint16,
    "int32": np.int32,
    "uint32": np.uint32,
    "int64": np.int64,
    "uint64": np.uint64,
    "float32": np.float32,
    "float64": np.float64,
}


class RosbagsFactory:
    """`MessageFactory` over a rosbags type store (see `typestore`).

    Fields that are not given are filled with ROS defaults (0, "", empty sequences, zero
    arrays, default sub-messages), so the same calls build Humble and Jazzy messages.
    """

    def __init__(self, store: Any):
        self.store = store

    def new(self, typename: str, **fields: Any) -> Any:
        try:
            _, definitions = self.store.fielddefs[typename]
        except KeyError:
            raise ValueError(f"unknown message type {typename!r}") from None
        known = {name for name, _ in definitions}
        unknown = set(fields) - known
        if unknown:
            raise ValueError(f"{typename} has no field(s) {sorted(unknown)}")
        values = {
            name: fields[name] if name in fields else self._default(kind)
            for name, kind in definitions
        }
        return self.store.types[typename](**values)

    def _default(self, kind: tuple[Any, Any]) -> Any:
        node, detail = kind
        name = getattr(node, "name", str(node))
        if name == "BASE":
            base = detail[0]
            if base == "string":
                return ""
            if base == "bool":
                return False
            return 0.0 if base.startswith("float") else 0
        if name == "NAME":
            return self.new(detail)
        inner, size = detail
        if getattr(inner[0], "name", "") == "BASE" and inner[1][0] in _NUMPY_TYPES:
            dtype = _NUMPY_TYPES[inner[1][0]]
            return np.zeros(size if name == "ARRAY" else 0, dtype=dtype)
        if name == "ARRAY":
            return [self._default(inner) for _ in range(size)]
        return []


def stamp_to_ns(stamp: Any) -> int:
    """builtin_interfaces/Time -> integer nanoseconds."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def ns_to_stamp(factory: MessageFactory, ns: int) -> Any:
    """Integer nanoseconds -> builtin_interfaces/Time."""
    sec, nanosec = divmod(int(ns), 1_000_000_000)
    return factory.new("builtin_interfaces/msg/Time", sec=sec, nanosec=nanosec)


def header(factory: MessageFactory, stamp_ns: int, frame_id: str) -> Any:
    """std_msgs/Header."""
    return factory.new(
        "std_msgs/msg/Header", stamp=ns_to_stamp(factory, stamp_ns), frame_id=frame_id
    )
