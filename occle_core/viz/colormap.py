"""A perceptually ordered colour map for scalar values (depth, height)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

# Anchor colours from dark blue through cyan, green and yellow to red; linearly interpolated.
_ANCHORS = np.array(
    [
        [48, 18, 59],
        [40, 120, 240],
        [30, 200, 200],
        [120, 240, 80],
        [250, 200, 40],
        [240, 90, 20],
        [120, 5, 5],
    ],
    dtype=np.float64,
)


def colorize_values(values: NDArray[np.floating], low: float, high: float) -> NDArray[np.uint8]:
    """Map scalars to RGB colours.

    Args:
        values: (N,) scalars.
        low: value drawn with the first anchor colour.
        high: value drawn with the last anchor colour.

    Returns:
        (N, 3) uint8 RGB.
    """
    span = max(high - low, 1e-9)
    t = np.clip((np.asarray(values, dtype=np.float64) - low) / span, 0.0, 1.0) * (len(_ANCHORS) - 1)
    lower = np.minimum(np.floor(t).astype(np.int64), len(_ANCHORS) - 2)
    frac = (t - lower)[:, None]
    rgb = _ANCHORS[lower] * (1 - frac) + _ANCHORS[lower + 1] * frac
    return np.round(rgb).astype(np.uint8)
