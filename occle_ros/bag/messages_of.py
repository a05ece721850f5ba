"""Every message of a rosbag2, decoded: for inspecting bags in scripts, notebooks and tests."""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path
from typing import Any

from occle_ros.messages import typestore


def read_bag_messages(
    bag: str | os.PathLike[str], topics: Collection[str] | None = None
) -> dict[str, list[Any]]:
    """Topic -> its decoded messages in log order (rosbags classes; our own message types are
    known). Loads them all into memory: meant for small bags.

    Args:
        bag: rosbag2 folder or .mcap file.
        topics: only these topics (default: all).
    """
    from rosbags.highlevel import AnyReader

    messages: dict[str, list[Any]] = {}
    with AnyReader([Path(bag)], default_typestore=typestore("humble")) as reader:
        wanted = [c for c in reader.connections if topics is None or c.topic in topics]
        for connection, _, data in reader.messages(connections=wanted):
            message = reader.deserialize(data, connection.msgtype)
            messages.setdefault(connection.topic, []).append(message)
    return messages
