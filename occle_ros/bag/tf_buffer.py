"""An offline TF buffer that answers as tf2's `BufferCore` does (ROS 2 Jazzy), for bag replay
without ROS.

The live node looks transforms up in `tf2_ros.Buffer`; `occle bag-eval` feeds the bag's /tf and
/tf_static to this buffer in bag order and asks it the same questions. The rules, read from
tf2's cache.cpp, static_cache.cpp and buffer_core.cpp:

- every child frame has one cache: a time cache (dynamic) or a static cache, by the kind of its
  latest transform (a switch starts a new, empty cache);
- a time cache keeps samples newest first; a new sample older than the newest minus
  `cache_time` is refused (tf2's TF_OLD_DATA), older ones age out when a sample is inserted,
  and an exact duplicate is not stored twice;
- a lookup at a stamp returns a sample at that exact stamp, interpolates between the two
  around it (translation linearly, rotation by slerp), and refuses any extrapolation: a cache
  with one sample answers only at its stamp;
- a static cache answers at every stamp;
- the path is found by walking from the source to its root, then from the target up to where
  the first walk stopped (`walkToTopParent`); a frame that tf2 has never heard of, an empty
  name or one starting with '/' is an error.

test/ros/test_tf_equivalence.py holds this buffer to tf2_ros on thousands of random trees.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from occle_core.geometry.transforms import invert_rigid
from occle_ros.conversions.transform import checked_quaternion_translation, quaternion_to_rotation
from occle_ros.errors import MessageError
from occle_ros.messages import stamp_to_ns

#: tf2_ros.Buffer's default cache_time (tf2::BUFFER_CORE_DEFAULT_CACHE_TIME).
DEFAULT_CACHE_NS = 10_000_000_000
#: tf2's MAX_GRAPH_DEPTH: a longer walk means a loop in the tree.
MAX_GRAPH_DEPTH = 1000


@dataclass(frozen=True)
class _Sample:
    """One transform parent_from_child: unit quaternion (x, y, z, w) and translation."""

    stamp_ns: int
    parent: str
    rotation: tuple[float, float, float, float]
    translation: tuple[float, float, float]


class _NoDataError(LookupError):
    """A cache has no sample usable at the requested stamp (tf2's extrapolation errors)."""


def _slerp(q1: NDArray[np.float64], q2: NDArray[np.float64], t: float) -> NDArray[np.float64]:
    """tf2::Quaternion::slerp: the shorter arc from q1 to q2."""
    dot = float(np.dot(q1, q2))
    scale = float(np.sqrt(np.dot(q1, q1) * np.dot(q2, q2)))
    theta = float(np.arccos(np.clip(abs(dot) / scale, -1.0, 1.0)))
    if theta == 0.0:
        return q1
    d = 1.0 / np.sin(theta)
    s0, s1 = np.sin((1.0 - t) * theta), np.sin(t * theta)
    return (q1 * s0 + (-q2 if dot < 0 else q2) * s1) * d


class _TimeCache:
    """tf2::TimeCache."""

    def __init__(self, cache_ns: int):
        self.cache_ns = cache_ns
        self.samples: list[_Sample] = []  # newest first

    def insert(self, sample: _Sample) -> bool:
        latest = self.samples[0].stamp_ns if self.samples else 0
        self._prune()
        if self.samples and sample.stamp_ns < latest - self.cache_ns:
            return False
        position = next(
            (i for i, s in enumerate(self.samples) if s.stamp_ns <= sample.stamp_ns),
            len(self.samples),
        )
        for kept in self.samples[position:]:
            if kept.stamp_ns != sample.stamp_ns:
                break
            if kept == sample:
                return True
        self.samples.insert(position, sample)
        return True

    def _prune(self) -> None:
        if self.samples:
            latest = self.samples[0].stamp_ns
            while self.samples and self.samples[-1].stamp_ns + self.cache_ns < latest:
                self.samples.pop()

    def get(self, stamp_ns: int) -> tuple[str, NDArray[np.float64], NDArray[np.float64]]:
        """(parent, quaternion, translation) at `stamp_ns`; raises `_NoDataError`."""
        samples = self.samples
        if not samples:
            raise _NoDataError("no data")
        if len(samples) == 1:
            if samples[0].stamp_ns == stamp_ns:
                return _unpack(samples[0])
            raise _NoDataError(
                f"lookup would require extrapolation at time {stamp_ns * 1e-9:.9f}, but only "
                f"time {samples[0].stamp_ns * 1e-9:.9f} is in the buffer"
            )
        latest, earliest = samples[0], samples[-1]
        if stamp_ns == latest.stamp_ns:
            return _unpack(latest)
        if stamp_ns == earliest.stamp_ns:
            return _unpack(earliest)
        if stamp_ns > latest.stamp_ns:
            raise _NoDataError(
                f"lookup would require extrapolation into the future: requested "
                f"{stamp_ns * 1e-9:.9f}, latest data at {latest.stamp_ns * 1e-9:.9f}"
            )
        if stamp_ns < earliest.stamp_ns:
            raise _NoDataError(
                f"lookup would require extrapolation into the past: requested "
                f"{stamp_ns * 1e-9:.9f}, earliest data at {earliest.stamp_ns * 1e-9:.9f}"
            )
        index = next(i for i, s in enumerate(samples) if s.stamp_ns <= stamp_ns)
        older, newer = samples[index], samples[index - 1]
        if older.parent != newer.parent:
            return _unpack(older)
        if older.stamp_ns == newer.stamp_ns:
            return _unpack(newer)
        ratio = (stamp_ns - older.stamp_ns) / (newer.stamp_ns - older.stamp_ns)
        _, q1, t1 = _unpack(older)
        _, q2, t2 = _unpack(newer)
        return older.parent, _slerp(q1, q2, ratio), t1 + (t2 - t1) * ratio


class _StaticCache:
    """tf2::StaticCache: the latest sample, at every time."""

    def __init__(self) -> None:
        self.sample: _Sample | None = None

    def insert(self, sample: _Sample) -> bool:
        self.sample = sample
        return True

    def get(self, stamp_ns: int) -> tuple[str, NDArray[np.float64], NDArray[np.float64]]:
        assert self.sample is not None
        return _unpack(self.sample)


def _unpack(sample: _Sample) -> tuple[str, NDArray[np.float64], NDArray[np.float64]]:
    return sample.parent, np.array(sample.rotation), np.array(sample.translation)


def _matrix(q: NDArray[np.float64], t: NDArray[np.float64]) -> NDArray[np.float64]:
    out = np.eye(4)
    out[:3, :3] = quaternion_to_rotation(q / np.linalg.norm(q))
    out[:3, 3] = t
    return out


class TransformBuffer:
    """A TF tree from /tf_static and /tf messages, answering as tf2 does (module docstring).

    Args:
        cache_ns: how long dynamic samples are kept behind the newest of their frame
            (tf2_ros.Buffer's `cache_time`, 10 s by default).
    """

    def __init__(self, cache_ns: int = DEFAULT_CACHE_NS):
        self.cache_ns = cache_ns
        self._caches: dict[str, _TimeCache | _StaticCache] = {}
        self._frames: set[str] = set()
        self.refused_old = 0

    def add(self, msg: Any, static: bool, source: str = "/tf") -> None:
        """Add a geometry_msgs/TransformStamped (`source` names the topic in errors).

        Raises:
            MessageError: a transform tf2 ignores too (no or equal frame names, a NaN value, a
                zero quaternion) or an infinite translation.
        """
        parent, child = _strip(str(msg.header.frame_id)), _strip(str(msg.child_frame_id))
        if not parent or not child or parent == child:
            raise MessageError(
                source, "TransformStamped.frame_id", f"{parent!r} -> {child!r}", "two frames"
            )
        rotation, translation = checked_quaternion_translation(msg.transform, source)
        rotation = rotation / np.linalg.norm(rotation)
        sample = _Sample(
            stamp_to_ns(msg.header.stamp),
            parent,
            (float(rotation[0]), float(rotation[1]), float(rotation[2]), float(rotation[3])),
            (float(translation[0]), float(translation[1]), float(translation[2])),
        )
        cache = self._caches.get(child)
        if cache is None or isinstance(cache, _StaticCache) != static:
            cache = _StaticCache() if static else _TimeCache(self.cache_ns)
            self._caches[child] = cache
        self._frames.update((parent, child))
        if not cache.insert(sample):
            self.refused_old += 1

    def add_tf_message(self, msg: Any, static: bool, source: str = "/tf") -> None:
        """Add every transform of a tf2_msgs/TFMessage (a bad one does not stop the others).

        Raises:
            MessageError: the first bad transform, after the good ones were added.
        """
        first_error: MessageError | None = None
        for transform in msg.transforms:
            try:
                self.add(transform, static, source)
            except MessageError as error:
                first_error = first_error or error
        if first_error is not None:
            raise first_error

    def _validated(self, frame: str, argument: str) -> str:
        if not frame:
            raise LookupError(f"{argument}: in tf2 frame_ids cannot be empty")
        if frame.startswith("/"):
            raise LookupError(f"{argument} {frame!r}: in tf2 frame_ids cannot start with a '/'")
        if frame not in self._frames:
            known = sorted(self._frames)
            raise LookupError(f"{argument} {frame!r} does not exist (known frames: {known})")
        return frame

    def lookup(self, target: str, source: str, stamp_ns: int) -> NDArray[np.float64]:
        """(4, 4) target_from_source at a stamp.

        Raises:
            LookupError: an unknown or invalid frame, frames that are not connected, or a link
                that would need extrapolation.
            ValueError: stamp 0 (tf2's "latest"; the pipeline never asks for it).
        """
        if target == source:
            return np.eye(4)
        if stamp_ns == 0:
            raise ValueError("TF lookup at stamp 0 ('latest' in tf2): expected a sensor stamp")
        self._validated(target, "target frame")
        self._validated(source, "source frame")
        source_to_top = np.eye(4)
        top, frame = source, source
        walk_error: _NoDataError | None = None
        for _ in range(MAX_GRAPH_DEPTH + 1):
            cache = self._caches.get(frame)
            if cache is None:
                top = frame
                break
            try:
                parent, q, t = cache.get(stamp_ns)
            except _NoDataError as error:
                top, walk_error = frame, error
                break
            if frame == target:
                return source_to_top
            source_to_top = _matrix(q, t) @ source_to_top
            top, frame = frame, parent
        else:
            raise LookupError("the tf tree is invalid because it contains a loop")
        target_to_top = np.eye(4)
        frame = target
        for _ in range(MAX_GRAPH_DEPTH + 1):
            if frame == top:
                return invert_rigid(target_to_top) @ source_to_top
            cache = self._caches.get(frame)
            if cache is None:
                break
            try:
                parent, q, t = cache.get(stamp_ns)
            except _NoDataError as error:
                raise LookupError(f"{error}, when looking up {source} -> {target}") from None
            if frame == source:
                return invert_rigid(target_to_top)
            target_to_top = _matrix(q, t) @ target_to_top
            frame = parent
        else:
            raise LookupError("the tf tree is invalid because it contains a loop")
        if walk_error is not None:
            raise LookupError(f"{walk_error}, when looking up {source} -> {target}")
        raise LookupError(
            f"could not find a connection between {target!r} and {source!r}: they are not part "
            "of the same tree"
        )


def _strip(frame: str) -> str:
    """tf2 strips one leading '/' from the frame names of incoming transforms."""
    return frame[1:] if frame.startswith("/") else frame
