"""Header stamps checked before a message may enter the synchroniser (node and replay alike).

A stamp of zero is what a driver that never set it sends, and a TF lookup at time zero means
"the latest transform" in tf2: such a message would be placed with the wrong pose without a word.
A stamp far ahead of the receiver's clock cannot be paired honestly either. Both are refused
here, counted per topic, and logged; message_filters itself would raise on a negative stamp in
the subscription callback (rclpy's Time refuses it), which ends the executor.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from occle_ros.errors import MessageError

_NS = 1_000_000_000


def checked_stamp_ns(message: Any, topic: str, now_ns: int | None, max_lead_ns: int) -> int:
    """The header stamp of `message` in nanoseconds, once it is a usable sensor stamp.

    Args:
        message: a ROS message with a std_msgs/Header.
        topic: for the error message.
        now_ns: the receiver's clock (the node's clock, or the bag's log time in a replay);
            None skips the lead check.
        max_lead_ns: largest accepted lead of the stamp over `now_ns` (0 = no limit).

    Raises:
        MessageError: no header, a stamp outside the valid range, zero, or too far ahead.
    """
    stamp = getattr(getattr(message, "header", None), "stamp", None)
    if stamp is None:
        raise MessageError(topic, "header.stamp", "no header", "a stamped sensor message")
    sec, nanosec = int(stamp.sec), int(stamp.nanosec)
    if sec < 0 or not 0 <= nanosec < _NS:
        raise MessageError(
            topic, "header.stamp", f"sec {sec}, nanosec {nanosec}", "sec >= 0, nanosec < 1e9"
        )
    stamp_ns = sec * _NS + nanosec
    if stamp_ns == 0:
        raise MessageError(
            topic, "header.stamp", "zero (never set by the driver?)", "the sensor's capture time"
        )
    if now_ns is not None and max_lead_ns > 0 and stamp_ns - now_ns > max_lead_ns:
        raise MessageError(
            topic,
            "header.stamp",
            f"{(stamp_ns - now_ns) / _NS:.3f} s ahead of the clock",
            f"at most input.max_stamp_lead = {max_lead_ns / _NS:g} s (clock or driver wrong?)",
        )
    return stamp_ns


@dataclass
class StampGate:
    """Counts the messages received and those refused by `checked_stamp_ns`, per topic.

    Args:
        max_lead_ns: see `checked_stamp_ns`.
    """

    max_lead_ns: int = 0
    received: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    last_error: str = ""

    def check(self, message: Any, topic: str, now_ns: int | None) -> int | None:
        """The stamp, or None (counted) when the message must not enter the synchroniser."""
        self.received[topic] += 1
        try:
            return checked_stamp_ns(message, topic, now_ns, self.max_lead_ns)
        except MessageError as error:
            self.refused[topic] += 1
            self.last_error = str(error)
            return None
