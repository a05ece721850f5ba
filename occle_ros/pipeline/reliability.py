"""Which reliability the node's input subscriptions ask for (`qos.reliability`).

A best-effort subscription hears every publisher, but a message larger than the transport
buffers, such as a 2 MB KITTI cloud or a 1.4 MB image, is lost whenever one of its fragments is
(measured here: 1 of 4 clouds and 0 of 4 images arrived at 1 Hz on loopback); a reliable one
gets them whole but cannot hear a best-effort publisher at all. "auto" takes the best of both
per topic: reliable while every publisher on it is reliable, best effort as soon as one is not
(or none is known yet), re-decided whenever its publishers change.
"""

from __future__ import annotations

from collections.abc import Sequence


def wants_reliable(setting: str, publishers_reliable: Sequence[bool]) -> bool:
    """True for a reliable subscription.

    Args:
        setting: `qos.reliability`: "auto", "reliable" or "best_effort".
        publishers_reliable: per publisher on the topic, whether it offers reliable delivery.
    """
    if setting == "auto":
        return bool(publishers_reliable) and all(publishers_reliable)
    return setting == "reliable"
