"""geometry_msgs/Transform <-> 4x4 matrices, and an offline TF buffer for bag replay."""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict, deque
from typing import Any

import numpy as np
from numpy.typing import NDArray

from occle_core.geometry.rotations import rotation_from_wxyz, wxyz_from_rotation
from occle_core.geometry.transforms import invert_rigid
from occle_ros.errors import MessageError
from occle_ros.messages import MessageFactory, header, stamp_to_ns


def quaternion_to_rotation(q: NDArray[np.floating]) -> NDArray[np.float64]:
    """(x, y, z, w) unit quaternion (the ROS order) -> (3, 3) rotation matrix."""
    x, y, z, w = (float(v) for v in q)
    return rotation_from_wxyz([w, x, y, z])


def rotation_to_quaternion(rotation: NDArray[np.floating]) -> NDArray[np.float64]:
    """(3, 3) rotation -> (x, y, z, w) unit quaternion (the ROS order) with w >= 0."""
    w, x, y, z = wxyz_from_rotation(rotation)
    return np.array([x, y, z, w])


def transform_to_matrix(msg: Any, source: str = "Transform") -> NDArray[np.float64]:
    """geometry_msgs/Transform -> (4, 4) parent_from_child.

    Raises:
        MessageError: a non-finite value or a rotation quaternion far from unit length.
    """
    t, r = msg.translation, msg.rotation
    q = np.array([r.x, r.y, r.z, r.w], dtype=np.float64)
    translation = np.array([t.x, t.y, t.z], dtype=np.float64)
    norm = float(np.linalg.norm(q))
    if not (np.isfinite(q).all() and np.isfinite(translation).all()) or abs(norm - 1) > 1e-3:
        raise MessageError(
            source, "Transform.rotation", f"quaternion {q.tolist()} (norm {norm:.4f})", "unit"
        )
    matrix = np.eye(4)
    matrix[:3, :3] = quaternion_to_rotation(q / norm)
    matrix[:3, 3] = translation
    return matrix


def matrix_to_transform(factory: MessageFactory, matrix: NDArray[np.floating]) -> Any:
    """(4, 4) rigid transform -> geometry_msgs/Transform."""
    m = np.asarray(matrix, dtype=np.float64)
    x, y, z, w = rotation_to_quaternion(m[:3, :3])
    return factory.new(
        "geometry_msgs/msg/Transform",
        translation=factory.new("geometry_msgs/msg/Vector3", x=m[0, 3], y=m[1, 3], z=m[2, 3]),
        rotation=factory.new("geometry_msgs/msg/Quaternion", x=x, y=y, z=z, w=w),
    )


def transform_stamped(
    factory: MessageFactory, matrix: NDArray[np.floating], stamp_ns: int, parent: str, child: str
) -> Any:
    """geometry_msgs/TransformStamped of parent_from_child."""
    return factory.new(
        "geometry_msgs/msg/TransformStamped",
        header=header(factory, stamp_ns, parent),
        child_frame_id=child,
        transform=matrix_to_transform(factory, matrix),
    )


def _interpolate(
    a: NDArray[np.float64], b: NDArray[np.float64], fraction: float
) -> NDArray[np.float64]:
    """Rigid transform between a and b: linear translation, spherical rotation."""
    qa, qb = rotation_to_quaternion(a[:3, :3]), rotation_to_quaternion(b[:3, :3])
    if np.dot(qa, qb) < 0:
        qb = -qb
    angle = float(np.arccos(np.clip(np.dot(qa, qb), -1.0, 1.0)))
    if angle < 1e-9:
        q = qa
    else:
        q = (np.sin((1 - fraction) * angle) * qa + np.sin(fraction * angle) * qb) / np.sin(angle)
    out = np.eye(4)
    out[:3, :3] = quaternion_to_rotation(q / np.linalg.norm(q))
    out[:3, 3] = (1 - fraction) * a[:3, 3] + fraction * b[:3, 3]
    return out


class TransformBuffer:
    """A TF tree built from /tf_static and /tf messages, for offline replay.

    Static transforms hold at every time; dynamic ones are interpolated between their stamps
    and never extrapolated beyond `tolerance_ns` (TF2's rule, with a small tolerance for
    transforms published at the sensor stamp).

    Args:
        tolerance_ns: how far before the first or after the last sample of a dynamic transform a
            lookup is still answered (with the nearest sample).
    """

    def __init__(self, tolerance_ns: int = 10_000_000):
        self.tolerance_ns = tolerance_ns
        self._static: dict[tuple[str, str], NDArray[np.float64]] = {}
        self._dynamic: dict[tuple[str, str], list[tuple[int, NDArray[np.float64]]]] = defaultdict(
            list
        )
        self._neighbours: dict[str, set[str]] = defaultdict(set)

    def add(self, msg: Any, static: bool, source: str = "/tf") -> None:
        """Add a geometry_msgs/TransformStamped."""
        parent, child = str(msg.header.frame_id).lstrip("/"), str(msg.child_frame_id).lstrip("/")
        if not parent or not child or parent == child:
            raise MessageError(
                source, "TransformStamped.frame_id", f"{parent!r} -> {child!r}", "two frames"
            )
        matrix = transform_to_matrix(msg.transform, source)
        if static:
            self._static[(parent, child)] = matrix
        else:
            samples = self._dynamic[(parent, child)]
            stamp = stamp_to_ns(msg.header.stamp)
            index = bisect_left([s for s, _ in samples], stamp)
            if index < len(samples) and samples[index][0] == stamp:
                samples[index] = (stamp, matrix)
            else:
                samples.insert(index, (stamp, matrix))
        self._neighbours[parent].add(child)
        self._neighbours[child].add(parent)

    def add_tf_message(self, msg: Any, static: bool, source: str = "/tf") -> None:
        """Add every transform of a tf2_msgs/TFMessage."""
        for transform in msg.transforms:
            self.add(transform, static, source)

    def _edge(self, parent: str, child: str, stamp_ns: int) -> NDArray[np.float64]:
        if (parent, child) in self._static:
            return self._static[(parent, child)]
        samples = self._dynamic[(parent, child)]
        stamps = [s for s, _ in samples]
        index = bisect_left(stamps, stamp_ns)
        if index < len(stamps) and stamps[index] == stamp_ns:
            return samples[index][1]
        if 0 < index < len(stamps):
            (t0, a), (t1, b) = samples[index - 1], samples[index]
            return _interpolate(a, b, (stamp_ns - t0) / (t1 - t0))
        nearest = samples[0] if index == 0 else samples[-1]
        if abs(nearest[0] - stamp_ns) <= self.tolerance_ns:
            return nearest[1]
        raise LookupError(
            f"transform {parent} -> {child} at {stamp_ns * 1e-9:.6f} s would need "
            f"extrapolation: samples cover {stamps[0] * 1e-9:.6f} .. {stamps[-1] * 1e-9:.6f} s"
        )

    def lookup(self, target: str, source: str, stamp_ns: int) -> NDArray[np.float64]:
        """(4, 4) target_from_source at a stamp, chaining through the tree.

        Raises:
            LookupError: the frames are not connected, or a dynamic link would be extrapolated.
        """
        target, source = target.lstrip("/"), source.lstrip("/")
        if target == source:
            return np.eye(4)
        previous: dict[str, str | None] = {target: None}
        queue = deque([target])
        while queue and source not in previous:
            frame = queue.popleft()
            for neighbour in sorted(self._neighbours[frame]):
                if neighbour not in previous:
                    previous[neighbour] = frame
                    queue.append(neighbour)
        if source not in previous:
            raise LookupError(
                f"no transform between {target!r} and {source!r} "
                f"(known frames: {sorted(self._neighbours)})"
            )
        # Walk from source back to target, composing target_from_source.
        result = np.eye(4)
        frame = source
        while frame != target:
            parent_in_path = previous[frame]
            assert parent_in_path is not None
            if (parent_in_path, frame) in self._static or (parent_in_path, frame) in self._dynamic:
                step = self._edge(parent_in_path, frame, stamp_ns)
            else:
                step = invert_rigid(self._edge(frame, parent_in_path, stamp_ns))
            result = step @ result
            frame = parent_in_path
        return result
