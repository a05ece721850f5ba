"""A labelled key frame's voxel labels carried into the other key frames of its sequence.

The label budget keeps the voxel labels of a few key frames (one in ten); the scene around them
does not change between key frames but for what moves. A road, a wall or a trunk labelled at
frame s is the same road, wall or trunk at frame t, seen from a pose a few metres on, so the
labelled frame's static classes (and its empty space) are moved into every other key frame of
the sequence with the two frames' poses, each voxel of t taking the label of the voxel of s its
centre falls in. Nothing more is annotated: this spends the same labels on more frames, as
SemanticKITTI's own ground truth spends one scan's point labels on the voxels of its neighbours.

In training they replace the key frame's dense pseudo labels (`occle_core.pseudo.voxels`) where
they say something, except where the pseudo grid says a movable class (a car may stand now where
the labelled frame saw free road). Movable classes of the labelled frame are not carried: the
object may have left. Measured on the KITTI-like rig's training sequences (frame 0 labelled,
the other nine key frames scored against their ground truth): the carried labels alone score
90-97 % IoU on road, sidewalk, other-ground, terrain and building, 85 % on parking, 70 % on
trunk; merged into the dense pseudo grids they raise the grids' mIoU from 52.6 to 56.5 %
(parking 36 -> 55, other-ground 52 -> 73, trunk 29 -> 49 %); docs/training.md, lever 17.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from occle_core.geometry.grid import GridSpec

IGNORE = 255


def carried_labels(
    labels: NDArray[np.uint8],
    grid: GridSpec,
    source_pose: NDArray[np.floating],
    target_pose: NDArray[np.floating],
    movable: Sequence[int] = (),
) -> NDArray[np.uint8]:
    """The labels of a source key frame moved into a target key frame's grid.

    Args:
        labels: (X, Y, Z) uint8 voxel labels of the source frame (255 = unknown), in `grid`.
        grid: the voxel grid, expressed in each frame's own sensor frame.
        source_pose: (4, 4) world pose of the source frame's grid frame.
        target_pose: (4, 4) world pose of the target frame's grid frame.
        movable: classes not carried (they may have moved between the two frames).

    Returns:
        (X, Y, Z) uint8: each target voxel takes the source label of the voxel its centre falls
        in; 255 where the centre falls outside the source grid, on an unknown source voxel or
        on a movable class.
    """
    source_from_target = np.linalg.inv(np.asarray(source_pose, dtype=np.float64)) @ np.asarray(
        target_pose, dtype=np.float64
    )
    axes = [np.arange(n) for n in grid.shape]
    indices = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    centres = grid.centers_of(indices).astype(np.float64)
    in_source = centres @ source_from_target[:3, :3].T + source_from_target[:3, 3]
    source_indices, inside = grid.points_to_indices(in_source)
    carried = np.full(len(indices), IGNORE, dtype=np.uint8)
    carried[inside] = labels[tuple(source_indices[inside].T)]
    carried = carried.reshape(grid.shape)
    if len(movable):
        carried[np.isin(carried, np.asarray(movable, dtype=np.uint8))] = IGNORE
    return carried


def carried_where(
    dense_pseudo: NDArray[np.uint8],
    carried: NDArray[np.uint8],
    movable: Sequence[int] = (),
) -> NDArray[np.bool_]:
    """Where the carried labels are used: (X, Y, Z) bool, True where `carried` says something
    and the dense pseudo grid of the frame does not say a movable class (an object there now may
    stand where the labelled frame saw free space or ground)."""
    use = carried != IGNORE
    if len(movable):
        use &= ~np.isin(dense_pseudo, np.asarray(movable, dtype=np.uint8))
    return use


def merge_carried(
    dense_pseudo: NDArray[np.uint8],
    carried: NDArray[np.uint8],
    movable: Sequence[int] = (),
) -> NDArray[np.uint8]:
    """Dense pseudo labels with the carried labels written over them.

    Args:
        dense_pseudo: (X, Y, Z) uint8 dense pseudo labels of the target frame (255 = unknown).
        carried: (X, Y, Z) uint8 from `carried_labels` (255 = nothing carried).
        movable: classes the pseudo grid keeps against the carried labels (`carried_where`).

    Returns:
        (X, Y, Z) uint8: the carried label where `carried_where`, the pseudo label elsewhere.
    """
    merged = dense_pseudo.copy()
    use = carried_where(dense_pseudo, carried, movable)
    merged[use] = carried[use]
    return merged


def nearest_source(kept_frames: Sequence[int], index: int, reach: int) -> int | None:
    """The kept (labelled) frame nearest to `index`, other than `index` itself, within `reach`
    scans (ties: the earlier frame); None when there is none."""
    candidates = [k for k in kept_frames if k != index and abs(k - index) <= reach]
    if not candidates:
        return None
    return min(candidates, key=lambda k: (abs(k - index), k))
