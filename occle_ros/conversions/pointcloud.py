"""sensor_msgs/PointCloud2 <-> (N, 4) float32 arrays of x, y, z, intensity."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from occle_ros.errors import MessageError
from occle_ros.messages import MessageFactory, header

#: sensor_msgs/PointField datatypes -> numpy scalar codes (without byte order).
POINT_FIELD_TYPES = {1: "i1", 2: "u1", 3: "i2", 4: "u2", 5: "i4", 6: "u4", 7: "f4", 8: "f8"}
FLOAT32, UINT8 = 7, 2
_FAST_NAMES = ("x", "y", "z", "intensity")


def _field_layout(msg: Any, source: str) -> dict[str, tuple[int, np.dtype]]:
    """name -> (offset, dtype) of every field, checked against point_step."""
    order = ">" if msg.is_bigendian else "<"
    step = int(msg.point_step)
    layout: dict[str, tuple[int, np.dtype]] = {}
    for field in msg.fields:
        code = POINT_FIELD_TYPES.get(int(field.datatype))
        if code is None:
            raise MessageError(
                source,
                f"PointCloud2.fields[{field.name}].datatype",
                f"unknown datatype {field.datatype}",
                "1..8 (INT8 .. FLOAT64)",
            )
        dtype = np.dtype(order + code)
        end = int(field.offset) + dtype.itemsize * max(int(field.count), 1)
        if int(field.offset) < 0 or end > step:
            raise MessageError(
                source,
                f"PointCloud2.fields[{field.name}].offset",
                f"field ends at byte {end} of a {step}-byte point",
                "fields inside point_step",
            )
        layout[str(field.name)] = (int(field.offset), dtype)
    missing = [axis for axis in "xyz" if axis not in layout]
    if missing:
        raise MessageError(
            source,
            "PointCloud2.fields",
            f"no field {', '.join(missing)} (fields: {sorted(layout)})",
            "fields x, y and z",
        )
    return layout


def _point_bytes(msg: Any, source: str) -> NDArray[np.uint8]:
    """(height * width * point_step,) bytes of the points, without row padding."""
    height, width = int(msg.height), int(msg.width)
    step, row_step = int(msg.point_step), int(msg.row_step)
    data = np.frombuffer(msg.data, dtype=np.uint8)
    if step <= 0:
        raise MessageError(source, "PointCloud2.point_step", f"point_step {step}", "> 0")
    if row_step < width * step:
        raise MessageError(
            source,
            "PointCloud2.row_step",
            f"row_step {row_step} < width {width} x point_step {step}",
            "row_step >= width * point_step",
        )
    if data.size != height * row_step:
        raise MessageError(
            source,
            "PointCloud2.data",
            f"{data.size} bytes for height {height} x row_step {row_step}",
            f"{height * row_step} bytes",
        )
    if row_step == width * step:
        return data
    # Rows with padding: drop it (one copy).
    return np.ascontiguousarray(data.reshape(height, row_step)[:, : width * step]).reshape(-1)


def _is_packed_xyzi(msg: Any, layout: dict[str, tuple[int, np.dtype]]) -> bool:
    """x, y, z, intensity as little-endian float32 at 0, 4, 8, 12 of a 16-byte point."""
    f32 = np.dtype("<f4")
    return (
        int(msg.point_step) == 16
        and all(name in layout for name in _FAST_NAMES)
        and all(layout[name] == (4 * i, f32) for i, name in enumerate(_FAST_NAMES))
    )


def cloud_to_array(
    msg: Any, source: str = "PointCloud2", intensity: str = "intensity"
) -> NDArray[np.float32]:
    """Points of a PointCloud2 as (N, 4) float32 x, y, z, intensity.

    Any field order, offsets, padding, point_step, row_step, byte order and numeric type are
    read; intensity is 0 when the cloud has no field named `intensity`. Points with a NaN or
    infinite coordinate are dropped. When the layout is already packed little-endian float32
    x, y, z, intensity and every point is finite, the result is a read-only view of the
    message buffer (no copy).

    Args:
        msg: sensor_msgs/PointCloud2 (rclpy or rosbags).
        source: topic, for error messages.
        intensity: name of the intensity field ("intensity", "reflectivity", "i", ...).

    Raises:
        MessageError: missing x/y/z, unknown datatypes, fields outside point_step, a data size
            that does not match height x row_step.
    """
    layout = _field_layout(msg, source)
    raw = _point_bytes(msg, source)
    count = int(msg.height) * int(msg.width)
    if count == 0:
        return np.zeros((0, 4), dtype=np.float32)
    if intensity == "intensity" and _is_packed_xyzi(msg, layout):
        points = raw.view(np.float32).reshape(count, 4)
    else:
        names = [n for n in ("x", "y", "z", intensity) if n in layout]
        record = np.dtype(
            {
                "names": names,
                "formats": [layout[n][1] for n in names],
                "offsets": [layout[n][0] for n in names],
                "itemsize": int(msg.point_step),
            }
        )
        structured = raw.view(record)
        points = np.zeros((count, 4), dtype=np.float32)
        for column, name in enumerate(names[:3]):
            points[:, column] = structured[name]
        if intensity in layout:
            points[:, 3] = structured[intensity]
    finite = np.isfinite(points[:, :3]).all(axis=1)
    if not finite.all():
        points = points[finite]
    return points


def _float_fields(factory: MessageFactory, names: Sequence[str]) -> list[Any]:
    """PointFields of consecutive float32 values named `names`, from offset 0."""
    return [
        factory.new("sensor_msgs/msg/PointField", name=n, offset=4 * i, datatype=FLOAT32, count=1)
        for i, n in enumerate(names)
    ]


def _packed_cloud(
    factory: MessageFactory, records: NDArray[Any], fields: list[Any], stamp_ns: int, frame_id: str
) -> Any:
    """An unorganised little-endian PointCloud2 whose points are the rows of `records`."""
    step = records.dtype.itemsize * int(np.prod(records.shape[1:]))  # bytes per row
    return factory.new(
        "sensor_msgs/msg/PointCloud2",
        header=header(factory, stamp_ns, frame_id),
        height=1,
        width=len(records),
        fields=fields,
        is_bigendian=False,
        point_step=step,
        row_step=step * len(records),
        data=np.ascontiguousarray(records).view(np.uint8).reshape(-1),
        is_dense=True,
    )


def array_to_cloud(
    factory: MessageFactory,
    points: NDArray[np.floating],
    stamp_ns: int,
    frame_id: str,
) -> Any:
    """(N, >=3) points (4th column intensity, else 0) -> packed float32 x, y, z, intensity
    PointCloud2 (little endian, height 1)."""
    packed = np.zeros((len(points), 4), dtype="<f4")
    packed[:, : min(points.shape[1], 4)] = points[:, :4]
    return _packed_cloud(factory, packed, _float_fields(factory, _FAST_NAMES), stamp_ns, frame_id)


def labelled_points_cloud(
    factory: MessageFactory,
    xyz: NDArray[np.floating],
    labels: NDArray[np.integer],
    stamp_ns: int,
    frame_id: str,
) -> Any:
    """(N, 3) positions and (N,) class labels -> PointCloud2 with float32 x, y, z and a uint8
    `label` field (16-byte points; RViz colours it with the Intensity transformer on `label`)."""
    record = np.dtype(
        {
            "names": ["x", "y", "z", "label"],
            "formats": ["<f4", "<f4", "<f4", "u1"],
            "offsets": [0, 4, 8, 12],
            "itemsize": 16,
        }
    )
    packed = np.zeros(len(xyz), dtype=record)
    for column, name in enumerate("xyz"):
        packed[name] = xyz[:, column]
    packed["label"] = labels
    fields = _float_fields(factory, "xyz")
    fields.append(
        factory.new("sensor_msgs/msg/PointField", name="label", offset=12, datatype=UINT8, count=1)
    )
    return _packed_cloud(factory, packed, fields, stamp_ns, frame_id)
