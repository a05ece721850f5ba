"""Approximate-time pairing of several input streams (camera images, camera infos, LiDAR).

The policy is that of message_filters' Python `ApproximateTimeSynchronizer`: every input keeps a
queue of its latest `queue_size` messages by header stamp; when a message arrives, the
synchroniser looks for one queued message of every other input such that all stamps lie
within `slop` of each other, preferring the candidates closest to the new message; a found set
is emitted and every queue forgets the messages up to the emitted stamp. A message older than
what its input already emitted can never be part of a set: it is dropped and counted as out of
order.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class SyncStats:
    """Counters: sets emitted, messages pushed out of a full queue, out-of-order messages."""

    emitted: int = 0
    overflow: int = 0
    out_of_order: int = 0
    received: dict[str, int] = field(default_factory=dict)


class ApproximateTimeSync:
    """Groups messages of named inputs whose stamps lie within `slop`.

    Args:
        inputs: input names (e.g. "cloud", "image0", "info0").
        slop_ns: largest spread of the stamps of one set, nanoseconds.
        queue_size: messages kept per input.
        callback: called with {input name: message} for every emitted set (inside `add`).
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
        self._queues: dict[str, dict[int, Any]] = {name: {} for name in inputs}
        self._emitted: dict[str, int] = {}
        self._lock = threading.Lock()

    def add(self, name: str, stamp_ns: int, message: Any) -> bool:
        """Queue a message; returns True when it completed a set (the callback ran)."""
        if name not in self._queues:
            raise KeyError(f"unknown input {name!r}, expected one of {self.inputs}")
        with self._lock:
            self.stats.received[name] += 1
            if stamp_ns <= self._emitted.get(name, -1):
                self.stats.out_of_order += 1
                return False
            queue = self._queues[name]
            queue[stamp_ns] = message
            while len(queue) > self.queue_size:
                del queue[min(queue)]
                self.stats.overflow += 1
            if stamp_ns not in queue:  # it was the oldest of a full queue (found by hypothesis)
                return False
            found = self._match(name, stamp_ns)
            if found is None:
                return False
            messages = {n: self._queues[n][s] for n, s in found.items()}
            for n, s in found.items():
                self._emitted[n] = s
                for old in [t for t in self._queues[n] if t <= s]:
                    del self._queues[n][old]
            self.stats.emitted += 1
        self.callback(messages)
        return True

    def _match(self, name: str, stamp_ns: int) -> dict[str, int] | None:
        others = [n for n in self.inputs if n != name]
        candidates = []
        for other in others:
            close = sorted(
                (abs(s - stamp_ns), s)
                for s in self._queues[other]
                if abs(s - stamp_ns) <= self.slop_ns
            )
            if not close:
                return None
            candidates.append([s for _, s in close])
        for combination in itertools.product(*candidates):
            stamps = [*combination, stamp_ns]
            if max(stamps) - min(stamps) <= self.slop_ns:
                return {**dict(zip(others, combination, strict=True)), name: stamp_ns}
        return None
