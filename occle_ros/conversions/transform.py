"""geometry_msgs/Transform <-> 4x4 matrices (the offline TF buffer: occle_ros.bag.tf_buffer)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from occle_core.geometry.rotations import rotation_from_wxyz, wxyz_from_rotation
from occle_ros.errors import MessageError
from occle_ros.messages import MessageFactory, header


def quaternion_to_rotation(q: NDArray[np.floating]) -> NDArray[np.float64]:
    """(x, y, z, w) unit quaternion (the ROS order) -> (3, 3) rotation matrix."""
    x, y, z, w = (float(v) for v in q)
    return rotation_from_wxyz([w, x, y, z])


def rotation_to_quaternion(rotation: NDArray[np.floating]) -> NDArray[np.float64]:
    """(3, 3) rotation -> (x, y, z, w) unit quaternion (the ROS order) with w >= 0."""
    w, x, y, z = wxyz_from_rotation(rotation)
    return np.array([x, y, z, w])


def checked_quaternion_translation(
    msg: Any, source: str = "Transform"
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The (x, y, z, w) quaternion and translation of a geometry_msgs/Transform, refused where
    tf2 refuses them: a NaN anywhere or a zero quaternion (tf2 normalises any other quaternion:
    its TF_DENORMALIZED_QUATERNION check runs on the already normalised rotation). An infinite
    translation, which tf2 would store, is refused too.

    Raises:
        MessageError: naming the translation or the rotation, whichever is wrong.
    """
    t, r = msg.translation, msg.rotation
    translation = np.array([t.x, t.y, t.z], dtype=np.float64)
    q = np.array([r.x, r.y, r.z, r.w], dtype=np.float64)
    if not np.isfinite(translation).all():
        raise MessageError(
            source, "Transform.translation", f"{translation.tolist()}", "finite metres"
        )
    if not np.isfinite(q).all() or float(np.dot(q, q)) == 0.0:
        raise MessageError(
            source,
            "Transform.rotation",
            f"quaternion {q.tolist()}",
            "a finite, non-zero quaternion",
        )
    return q, translation


def transform_to_matrix(msg: Any, source: str = "Transform") -> NDArray[np.float64]:
    """geometry_msgs/Transform -> (4, 4) parent_from_child (the quaternion normalised).

    Raises:
        MessageError: a non-finite value or a zero quaternion.
    """
    q, translation = checked_quaternion_translation(msg, source)
    matrix = np.eye(4)
    matrix[:3, :3] = quaternion_to_rotation(q / np.linalg.norm(q))
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
