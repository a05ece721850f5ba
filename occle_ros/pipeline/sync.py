"""Approximate-time pairing of several input streams (camera images, camera infos, LiDAR), by
exactly the rule of message_filters' Python `ApproximateTimeSynchronizer` (ROS 2 Jazzy), which the
live node uses; `occle bag-eval` uses this class so that a replay pairs as the node does
(test/ros/test_sync_equivalence.py holds the two together on thousands of random streams).

The rule: every input keeps its latest `queue_size` messages by header stamp (a second message
with a stamp already queued replaces the first; the oldest stamp leaves a full queue). When a
message arrives, every other input offers its queued stamps within `slop` of the new one
(``|delta| <= slop``), sorted by distance, ties in arrival order; the first combination, in that
order, whose whole spread is strictly below `slop` is emitted, and exactly those messages leave
their queues. Nothing else is dropped: an older message can still pair later.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


def seconds_to_ns(seconds: float) -> int:
    """Seconds -> integer nanoseconds, truncated as `rclpy.duration.Duration(seconds=...)` does
    (message_filters turns its slop into such a Duration)."""
    return int(seconds * 1_000_000_000)


@dataclass
class SyncStats:
    """Counters: sets emitted, messages pushed out of a full queue or replaced by one with the
    same stamp, messages received per input."""

    emitted: int = 0
    overflow: int = 0
    received: dict[str, int] = field(default_factory=dict)


class ApproximateTimeSync:
    """Groups messages of named inputs whose stamps lie within `slop` (message_filters' rule).

    Args:
        inputs: input names, in the synchroniser's input order (e.g. "cloud", "image0", "info0").
        slop_ns: the slop in nanoseconds (`seconds_to_ns` of the node's `sync.slop`).
        queue_size: messages kept per input.
        callback: called with {input name: message} for every emitted set (after `add` has
            updated the queues).
    """

    def __init__(
        self,
        inputs: Sequence[str],
        slop_ns: int,
        queue_size: int,
        callback: Callable[[dict[str, Any]], None],
    ):
        if len(set(inputs)) != len(inputs) or not inputs:
            raise ValueError(f"inputs {list(inputs)}: expected distinct names")
        if slop_ns < 0 or queue_size < 1:
            raise ValueError(f"slop {slop_ns} ns, queue {queue_size}: expected >= 0 and >= 1")
        self.inputs = list(inputs)
        self.slop_ns = slop_ns
        self.queue_size = queue_size
        self.callback = callback
        self.stats = SyncStats(received=dict.fromkeys(inputs, 0))
        # stamp -> message per input; dicts keep arrival order, which breaks distance ties.
        self._queues: dict[str, dict[int, Any]] = {name: {} for name in inputs}
        self._lock = threading.Lock()

    def add(self, name: str, stamp_ns: int, message: Any) -> bool:
        """Queue a message; returns True when it completed a set (the callback ran)."""
        if name not in self._queues:
            raise KeyError(f"unknown input {name!r}, expected one of {self.inputs}")
        with self._lock:
            self.stats.received[name] += 1
            queue = self._queues[name]
            if stamp_ns in queue:
                self.stats.overflow += 1
            queue[stamp_ns] = message
            while len(queue) > self.queue_size:
                del queue[min(queue)]
                self.stats.overflow += 1
            if stamp_ns not in queue:  # it was the oldest of a full queue
                return False
            found = self._match(name, stamp_ns)
            if found is None:
                return False
            messages = {n: self._queues[n].pop(s) for n, s in found.items()}
            self.stats.emitted += 1
        self.callback(messages)
        return True

    def _candidates(self, stamp_ns: int, other: str) -> list[int]:
        """Stamps of `other` within the slop of `stamp_ns`, nearest first (stable)."""
        near = [s for s in self._queues[other] if abs(s - stamp_ns) <= self.slop_ns]
        return sorted(near, key=lambda s: abs(s - stamp_ns))

    def _match(self, name: str, stamp_ns: int) -> dict[str, int] | None:
        """The first combination in message_filters' product order whose spread is below the
        slop. A depth-first search with pruning finds the same one as the full product (whose
        size grows as queue_size ** (inputs - 1), 244 million for six cameras) in far less."""
        others = [n for n in self.inputs if n != name]
        candidates = [self._candidates(stamp_ns, other) for other in others]
        if not all(candidates):
            return None
        chosen: list[int] = []

        def search(depth: int, low: int, high: int) -> bool:
            if depth == len(candidates):
                return True
            for stamp in candidates[depth]:
                new_low, new_high = min(low, stamp), max(high, stamp)
                # The spread only grows with more inputs: a prefix at the slop ends the branch.
                if new_high - new_low < self.slop_ns:
                    chosen.append(stamp)
                    if search(depth + 1, new_low, new_high):
                        return True
                    chosen.pop()
            return False

        if not search(0, stamp_ns, stamp_ns):
            return None
        return {**dict(zip(others, chosen, strict=True)), name: stamp_ns}
