"""sensor_msgs/CameraInfo <-> pinhole intrinsics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from occle_ros.errors import MessageError
from occle_ros.messages import MessageFactory, header


@dataclass(frozen=True)
class CameraIntrinsics:
    """What the model needs from a CameraInfo.

    Attributes:
        intrinsics: (3, 3) K.
        width, height: image size in pixels.
        frame_id: the camera's optical frame (TF name).
        distorted: the message carries non-zero distortion coefficients; OccLE projects with
            the pinhole K only, so such images should be rectified upstream (image_proc).
    """

    intrinsics: NDArray[np.float64]
    width: int
    height: int
    frame_id: str
    distorted: bool


def camera_info_to_intrinsics(msg: Any, source: str = "CameraInfo") -> CameraIntrinsics:
    """CameraInfo -> `CameraIntrinsics` (K from `k`).

    Raises:
        MessageError: an empty image size, or a K that is not a valid pinhole matrix.
    """
    width, height = int(msg.width), int(msg.height)
    if width <= 0 or height <= 0:
        raise MessageError(source, "CameraInfo.width/height", f"{width}x{height}", "> 0")
    k = np.asarray(msg.k, dtype=np.float64)
    if k.size != 9:
        raise MessageError(source, "CameraInfo.k", f"{k.size} values", "9 (row-major 3x3)")
    k = k.reshape(3, 3)
    valid = (
        np.isfinite(k).all()
        and k[0, 0] > 0
        and k[1, 1] > 0
        and np.allclose(k[2], (0.0, 0.0, 1.0))
        and k[1, 0] == 0.0
    )
    if not valid:
        raise MessageError(
            source,
            "CameraInfo.k",
            f"not a pinhole matrix: {k.ravel().tolist()}",
            "[fx, s, cx, 0, fy, cy, 0, 0, 1] with fx, fy > 0",
        )
    d = np.asarray(msg.d, dtype=np.float64)
    return CameraIntrinsics(k, width, height, str(msg.header.frame_id), bool(np.any(d != 0)))


def camera_info_message(
    factory: MessageFactory,
    intrinsics: NDArray[np.floating],
    width: int,
    height: int,
    stamp_ns: int,
    frame_id: str,
) -> Any:
    """CameraInfo of a rectified pinhole camera (no distortion, R = I, P = [K | 0])."""
    k = np.asarray(intrinsics, dtype=np.float64).reshape(3, 3)
    p = np.zeros((3, 4))
    p[:, :3] = k
    return factory.new(
        "sensor_msgs/msg/CameraInfo",
        header=header(factory, stamp_ns, frame_id),
        height=height,
        width=width,
        distortion_model="plumb_bob",
        d=np.zeros(5),
        k=k.reshape(-1),
        r=np.eye(3).reshape(-1),
        p=p.reshape(-1),
    )
