"""Multi-frame aggregation: bring the points of several scans or sweeps into one frame.

`merge_clouds` is the one way clouds are merged, used by the dataset readers (SemanticKITTI
scans through `aggregate_scans`, nuScenes sweeps), training and the ROS node's LiDAR history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from occle_core.geometry.transforms import invert_rigid, transform_points

if TYPE_CHECKING:  # Frame imports geometry; a runtime import here would be circular.
    from occle_core.data.source import SequenceSource
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


def merge_clouds(
    clouds: Sequence[NDArray[np.floating]],
    ref_from_cloud: Sequence[NDArray[np.floating] | None],
    newest_first: bool = False,
) -> tuple[NDArray[np.float32], NDArray[np.int32]]:
    """Concatenate clouds, each moved into the reference frame by its transform.

    Args:
        clouds: (N_i, C) float points, x, y, z first, given oldest first; every cloud has the
            same C columns (intensity, ring, ...), which are kept.
        ref_from_cloud: (4, 4) reference_from_cloud per cloud (None: already in the
            reference frame).
        newest_first: concatenate the newest cloud first (the nuScenes / mmdetection3d order:
            key sweep, then earlier sweeps), else oldest first (SemanticKITTI). The order
            matters downstream: the voxel encoder keeps the first points of a crowded voxel.

    Returns:
        (M, C) float32 points and (M,) int32 index into `clouds` of each point's cloud.
    """
    order = list(range(len(clouds)))[::-1] if newest_first else list(range(len(clouds)))
    chunks, sources = [], []
    for index in order:
        points = np.asarray(clouds[index], dtype=np.float32)
        transform = ref_from_cloud[index]
        if transform is not None:
            points = points.copy()
            points[:, :3] = transform_points(transform, points[:, :3].astype(np.float64))
        chunks.append(points)
        sources.append(np.full(len(points), index, dtype=np.int32))
    if not chunks:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.int32)
    return np.concatenate(chunks), np.concatenate(sources)


def aggregate_frames(frames: Sequence[Frame], reference: Frame) -> AggregatedPoints:
    """Transform the points (x, y, z, intensity) of every frame into `reference`'s frame.

    ``ref_from_src = inv(world_from_ref) @ world_from_src``.

    Args:
        frames: frames to merge, oldest first (the reference itself may be among them).
        reference: frame whose coordinate system the result uses.

    Returns:
        The merged points with their origin.
    """
    ref_from_world = invert_rigid(reference.pose)
    points, source = merge_clouds(
        [frame.points[:, :4] for frame in frames],
        [ref_from_world @ frame.pose for frame in frames],
    )
    times = np.array([frame.time - reference.time for frame in frames], dtype=np.float32)
    return AggregatedPoints(points, source, times[source])


@dataclass(frozen=True)
class AggregatedScans:
    """Scan t with the scans before it merged into its LiDAR frame.

    Attributes:
        frame: merged points (N, 4) with the images, cameras, pose and time of scan t.
        scans: the scan numbers merged, oldest first (t last).
        source: (N,) int32 position in `scans` of each point's scan.
    """

    frame: Frame
    scans: list[int]
    source: NDArray[np.int32]


def aggregate_scans(sequence: SequenceSource, index: int, scans: int) -> AggregatedScans:
    """Scan `index` and up to `scans - 1` scans before it, in the LiDAR frame of `index`
    (moved by their poses; only scan `index`'s image is loaded)."""
    from occle_core.frame import Frame

    history = [i for i in sequence.scan_ids if index - scans < i <= index]
    if not history or history[-1] != index:
        raise ValueError(f"sequence {sequence.sequence} has no scan {index}")
    frames = [sequence.frame(i, load_image=(i == index)) for i in history]
    current = frames[-1]
    merged = aggregate_frames(frames, current)
    frame = Frame(
        merged.points,
        current.images,
        current.cameras,
        current.pose,
        current.time,
        current.frame_id,
    )
    return AggregatedScans(frame, history, merged.source)


def aggregated_frame(sequence: SequenceSource, index: int, scans: int) -> Frame:
    """The merged Frame of `aggregate_scans`."""
    return aggregate_scans(sequence, index, scans).frame
