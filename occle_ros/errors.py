"""The error every conversion raises on a malformed ROS message."""

from __future__ import annotations

from occle_core.errors import DataFormatError


class MessageError(DataFormatError):
    """A ROS message that cannot be converted.

    The text names the topic (or message type) and field, what was found and what was expected,
    e.g. ``/velodyne_points: PointCloud2.fields: no field 'z' (expected fields x, y and z)``.
    The pipeline logs it and skips the message; it never stops the node or a replay.

    Args:
        source: topic or message type the message came from.
        field: the offending field (``PointCloud2.data``).
        problem: what was found.
        expected: what was expected instead.
    """

    def __init__(self, source: str, field: str, problem: str, expected: str | None = None):
        self.field = field
        super().__init__(f"{source}: {field}" if source else field, problem, expected)
