"""Play a rosbag2 onto a live ROS 2 graph without rosbag2 (`ros2 bag play` is C++ and not on
every machine; needs rclpy and rosbags).

Messages are read with rosbags and published exactly as recorded (their CDR bytes), on their
recorded topics, at their recorded pace divided by `rate`; /clock follows the log time of every
message (``use_sim_time:=true`` nodes then run on bag time, as with ``ros2 bag play --clock``).
/tf_static is published transient-local, like tf2's static broadcaster.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rosidl_runtime_py.utilities import get_message

from occle_core.errors import DataFormatError
from occle_ros.messages import typestore

LATCHED_TOPICS = ("/tf_static", "/occle/source")


@dataclass(frozen=True)
class BagMessage:
    """One recorded message: log time (ns), topic, ROS type name and serialized CDR bytes."""

    timestamp: int
    topic: str
    msgtype: str
    data: bytes


class BagPlayer:
    """Publishes the messages of a bag through `node`.

    Args:
        node: the rclpy node that owns the publishers.
        bag: rosbag2 folder or .mcap file.
        topics: only these topics (default: all).
        clock: publish /clock (rosgraph_msgs/Clock) at every message's log time.

    Raises:
        DataFormatError: an unreadable bag, an unknown topic, a message type rclpy cannot import.
    """

    def __init__(
        self,
        node: Node,
        bag: str | os.PathLike[str],
        topics: Sequence[str] | None = None,
        clock: bool = True,
    ):
        from rosbags.highlevel import AnyReader
        from rosgraph_msgs.msg import Clock

        self.node = node
        self.bag = Path(bag)
        try:
            self.reader = AnyReader([self.bag], default_typestore=typestore("humble"))
            self.reader.open()
        except Exception as error:  # rosbags raises its own reader errors for corrupt files
            raise DataFormatError(self.bag, f"not a readable rosbag2 ({error})") from None
        available = {c.topic for c in self.reader.connections}
        missing = sorted(set(topics or ()) - available)
        if missing:
            self.reader.close()
            raise DataFormatError(self.bag, f"no topic {missing}", f"one of {sorted(available)}")
        self.connections = [c for c in self.reader.connections if not topics or c.topic in topics]
        self.publishers: dict[str, Any] = {}
        for connection in self.connections:
            if connection.topic not in self.publishers:
                self.publishers[connection.topic] = self._publisher(connection)
        self.clock = node.create_publisher(Clock, "/clock", 10) if clock else None
        self._clock_type = Clock
        self.published = 0

    def _publisher(self, connection: Any) -> Any:
        try:
            message_type = get_message(connection.msgtype)
        except (AttributeError, ModuleNotFoundError, ValueError) as error:
            self.reader.close()
            raise DataFormatError(
                self.bag, f"{connection.topic}: type {connection.msgtype} ({error})", "importable"
            ) from None
        latched = connection.topic in LATCHED_TOPICS
        profile = QoSProfile(
            depth=100 if latched else 10,
            reliability=ReliabilityPolicy.RELIABLE,
            durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE,
        )
        return self.node.create_publisher(message_type, connection.topic, profile)

    def messages(self) -> Iterator[BagMessage]:
        """The bag's messages in log-time order (not yet published)."""
        for connection, timestamp, data in self.reader.messages(connections=self.connections):
            yield BagMessage(timestamp, connection.topic, connection.msgtype, bytes(data))

    def publish(self, message: BagMessage) -> None:
        """Advance /clock to the message's log time, then publish its bytes."""
        self.publish_clock(message.timestamp)
        self.publishers[message.topic].publish(message.data)
        self.published += 1

    def publish_clock(self, timestamp: int) -> None:
        """Set the graph's simulated time (no-op without /clock)."""
        if self.clock is not None:
            clock = self._clock_type()
            clock.clock.sec, clock.clock.nanosec = divmod(timestamp, 1_000_000_000)
            self.clock.publish(clock)

    def play(self, rate: float = 1.0, before: Callable[[BagMessage], None] | None = None) -> int:
        """Publish every message at the recorded pace divided by `rate`; returns the count.

        Args:
            rate: speed factor.
            before: called with each message before it is published; time spent in it pauses
                the playback (the gaps between the messages that follow stay as recorded).
        """
        if rate <= 0:
            raise ValueError(f"rate {rate}: expected > 0")
        first: int | None = None
        started = time.monotonic()
        for message in self.messages():
            first = message.timestamp if first is None else first
            delay = started + (message.timestamp - first) * 1e-9 / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if before is not None:
                paused = time.monotonic()
                before(message)
                started += time.monotonic() - paused
            self.publish(message)
        return self.published

    def close(self) -> None:
        """Destroy the publishers and close the bag."""
        for publisher in self.publishers.values():
            self.node.destroy_publisher(publisher)
        if self.clock is not None:
            self.node.destroy_publisher(self.clock)
        self.reader.close()
