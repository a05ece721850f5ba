"""A rosbag2 written in a hidden folder beside `out` and moved to `out` only when complete."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from occle_ros.bag.qos import qos
from occle_ros.messages import typestore


class AtomicBagWriter:
    """Context manager over rosbags' Writer: connections by topic, messages serialised with the
    chosen distro's typestore (or copied as recorded bytes), and no half-written bag at `out`
    when anything fails.

    rosbags names the storage file after the bag folder, so the bag is written as
    `<parent>/.<name>.partial/<name>/` (its data file `<name>.mcap` or `.db3` and metadata.yaml
    naming it) and that folder is renamed to `out`: a finished bag carries no `partial` in any
    name, and a failed one leaves only the hidden folder, removed at once (or by the next run).

    Args:
        out: bag folder to create.
        storage: "mcap" or "sqlite3".
        distro: ROS 2 distribution whose message definitions are written ("humble", "jazzy").

    Raises:
        FileExistsError: `out` exists.
    """

    def __init__(
        self,
        out: str | os.PathLike[str],
        storage: Literal["mcap", "sqlite3"] = "mcap",
        distro: str = "humble",
    ):
        self.out = Path(out)
        if self.out.exists():
            raise FileExistsError(f"{self.out}: already exists; remove it or choose another --out")
        self.staging = self.out.parent / f".{self.out.name}.partial"
        self.storage = storage
        self.store = typestore(distro)
        self._writer: Any = None
        self._connections: dict[str, Any] = {}

    def __enter__(self) -> AtomicBagWriter:
        from rosbags.rosbag2 import StoragePlugin, Writer

        shutil.rmtree(self.staging, ignore_errors=True)  # a killed earlier run's leftovers
        self.staging.mkdir(parents=True)
        plugin = StoragePlugin.MCAP if self.storage == "mcap" else StoragePlugin.SQLITE3
        self._writer = Writer(self.staging / self.out.name, version=8, storage_plugin=plugin)
        self._writer.open()
        return self

    def connect(self, topic: str, msgtype: str, latched: bool = False) -> None:
        """Declare a topic (latched: transient-local QoS, as /tf_static is offered)."""
        self._connections[topic] = self._writer.add_connection(
            topic, msgtype, typestore=self.store, offered_qos_profiles=[qos(latched)]
        )

    def connected(self, topic: str) -> bool:
        return topic in self._connections

    def write(self, topic: str, stamp_ns: int, message: Any) -> None:
        """Serialise a message of a connected topic, logged at `stamp_ns`."""
        data = self.store.serialize_cdr(message, message.__msgtype__)
        self._writer.write(self._connections[topic], stamp_ns, data)

    def write_raw(self, topic: str, stamp_ns: int, data: bytes) -> None:
        """Write a message of a connected topic as the serialised bytes it was recorded as."""
        self._writer.write(self._connections[topic], stamp_ns, data)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            self._writer.close()
            if kind is None:
                (self.staging / self.out.name).rename(self.out)
        finally:
            shutil.rmtree(self.staging, ignore_errors=True)
