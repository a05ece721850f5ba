"""Multi-frame aggregation: bring the points of several frames into one frame using poses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from occle_core.geometry.transforms import invert_rigid, transform_points

if TYPE_CHECKING:  # Frame imports geometry; a runtime import here would be circular.
    from occle_core.frame import Frame


@dataclass(frozen=True)
class AggregatedPoints:
    """Points of several frames in one reference frame.

    Attributes:
        points: (M, 4) float32 x, y, z, intensity in the reference frame.
        source: (M,) int32 index into the input frame list of each point's frame.
        time_offset: (M,) float32 source frame time minus reference time, seconds.
    """

    points: NDArray[np.float32]
    source: NDArray[np.int32]
    time_offset: NDArray[np.float32]


def aggregate_frames(frames: Sequence[Frame], reference: Frame) -> AggregatedPoints:
    """Transform the points of every frame into `reference`'s frame.

    ``ref_from_src = inv(world_from_ref) @ world_from_src``.

    Args:
        frames: frames to merge (the reference itself may be among them).
        reference: frame whose coordinate system the result uses.

    Returns:
        The merged points with their origin.
    """
    ref_from_world = invert_rigid(reference.pose)
    chunks, sources, offsets = [], [], []
    for index, frame in enumerate(frames):
        ref_from_src = ref_from_world @ frame.pose
        moved = frame.points[:, :4].astype(np.float32, copy=True)
        moved[:, :3] = transform_points(ref_from_src, frame.points[:, :3].astype(np.float64))
        chunks.append(moved)
        sources.append(np.full(len(moved), index, dtype=np.int32))
        offsets.append(np.full(len(moved), frame.time - reference.time, dtype=np.float32))
    if not chunks:
        return AggregatedPoints(
            np.zeros((0, 4), np.float32), np.zeros(0, np.int32), np.zeros(0, np.float32)
        )
    return AggregatedPoints(
        np.concatenate(chunks), np.concatenate(sources), np.concatenate(offsets)
    )
