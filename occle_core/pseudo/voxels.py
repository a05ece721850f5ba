"""Dense voxel pseudo labels of a key frame: a window of pseudo-labelled scans, voted per voxel.

SemanticKITTI builds its own SSC ground truth by accumulating the labelled points of the scans
around a key frame, future ones included, so that surfaces the key scan misses are filled in.
The same recipe applied to the lifted pseudo labels gives a dense pseudo target for every key
frame: the pseudo-labelled points of scans t - back .. t + forward are moved into scan t's frame
with the poses and each voxel of the grid takes their majority label (255 where no labelled
point falls). It costs nothing at inference (the network still sees t - 2 .. t only); it is an
offline target, cached by `occle pseudo-label`.

SemanticKITTI's ground truth also says "empty": so does this target, where the beams of the
window's scans crossed a voxel that none of their returns fell into (ray traversal as in
`lidar_evidence`, with a one-voxel horizontal clearance around occupied voxels so grazing beams do
not carve into the ground). Without it the final head's pseudo CE only ever says "occupied" and
the network learns to over-fill the scene (measured: completion precision 89 % -> 69 %).

Objects that move during the window leave trails, as in SemanticKITTI's own accumulation.
`VoxelWindow.movable_reach` keeps the points that carry a movable class (vehicles, people,
riders: `MOVABLE_CLASS_NAMES`) only from the scans within that many scans of the key frame, so a
moving object is voted where it is at the key frame and nowhere else (a parked car loses the
surfaces only other scans saw; they stay unknown rather than wrong).
`VoxelWindow.follow_people` keeps those scans for people and riders, which move the most for
their size: they are followed scan to scan and moved to where they are at the key frame
(`occle_core.pseudo.tracks`), so their voxels are voted from every scan without a trail (cleaner
grids, measured; no gain once trained, so off by default: docs/training.md, lever 4).
`VoxelWindow.carve_trails` removes the trails without giving up the other scans: a voxel voted
a movable class is made empty where the beams of the scans near the key frame crossed it with no
return there, i.e. where the object was once and is no longer (ray casting against the key
frame, as map-cleaning methods remove dynamic points); the far side of a parked car is occluded
from the key scan, so it keeps its votes. On by default, off for Occ3D scenes (docs/training.md,
lever 8).
`VoxelWindow.vote_balance` lets the rare static classes win the voxels they share: a
dataset-specific segmenter that lacks a class (trunk) says its stand-in (vegetation), and small
static things (traffic signs, poles) lose their rims to their surroundings, so the window's
points of such a voxel are split between the rare class and a common one, and a plain majority
hands the rare class's voxels to the common one. Each vote of a static class c then counts (m /
f_c) ** vote_balance, where f_c is c's share of the sequence's labelled points and m the median
share of the classes that occur (at least 1, at most `MAX_VOTE_WEIGHT`); movable classes keep
weight 1, since their minority votes in a voxel are the blurred rim of the object or its trail,
not a missed object. Measured (docs/training.md, lever 9): the grids of the validation sequences
gain 3.5 mIoU points on the KITTI-like rig (trunk 18.5 -> 50.9 %, traffic sign 78.4 -> 86.3 %)
and 2.2 on the surround rig (other_flat 20.4 -> 46.5 %), but the networks trained on them do not
(three training seeds on the KITTI-like rig: -0.2 mIoU, -0.7 IoU; one on the surround rig: -1.6
mIoU), so it is off by default.
Measured on the demo's validation sequence (10 key frames), scoring the grids directly as
predictions with the SSC metric: the key scan alone 22.8 % completion IoU / 17.7 % mIoU,
window 2 / 0 32.4 % / 23.4 %, window 10 / 20 67.1 % / 36.2 % (docs/training.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from occle_core.data.source import SequenceSource
from occle_core.frame import Frame
from occle_core.geometry.aggregate import aggregate_frames
from occle_core.geometry.grid import GridSpec
from occle_core.geometry.raytrace import FREE, lidar_evidence
from occle_core.geometry.transforms import invert_rigid
from occle_core.pseudo.cache import pseudo_points_path, read_point_pseudo_labels
from occle_core.pseudo.lifting import IGNORE, vote_voxel_labels
from occle_core.pseudo.tracks import follow_objects

# Classes that can move, in both label sets (SemanticKITTI, Occ3D-nuScenes): without instance
# tracks or motion flags the class is all the pseudo labels know about a point's motion.
MOVABLE_CLASS_NAMES = frozenset(
    {
        *("car", "bicycle", "motorcycle", "truck", "other-vehicle", "person", "bicyclist"),
        *("motorcyclist", "bus", "construction_vehicle", "pedestrian", "trailer"),
    }
)


def movable_class_ids(class_names: Sequence[str]) -> tuple[int, ...]:
    """Ids of the movable classes (`MOVABLE_CLASS_NAMES`) of a label set."""
    return tuple(i for i, name in enumerate(class_names) if name in MOVABLE_CLASS_NAMES)


#: Largest weight `static_vote_weights` gives one vote: a class seen on a handful of points of
#: the whole sequence should not take every voxel it touches.
MAX_VOTE_WEIGHT = 50.0


def static_vote_weights(
    point_counts: NDArray[np.integer],
    balanced: Sequence[int],
    exponent: float,
    limit: float = MAX_VOTE_WEIGHT,
) -> NDArray[np.float64]:
    """Per-class weight of one vote in a voxel's majority (`VoxelWindow.vote_balance`).

    Args:
        point_counts: (C,) labelled points of each class (the sequence's lifted pseudo labels).
        balanced: the classes whose votes are weighted (the static ones, not the empty class).
        exponent: 0 gives every class weight 1; 1 weighs a class by median share / its share.
        limit: the largest weight.

    Returns:
        (C,) float64 weights in [1, limit]: (m / f_c) ** exponent for the classes in `balanced`
        that occur (f_c: the class's share of the counted points; m: the median share over
        every class that occurs), 1 for every other class.
    """
    counts = np.asarray(point_counts, dtype=np.float64)
    weights = np.ones(counts.size, dtype=np.float64)
    total = counts.sum()
    if exponent == 0 or total == 0:
        return weights
    shares = counts / total
    median = float(np.median(shares[shares > 0]))
    for c in balanced:
        if shares[c] > 0:
            weights[c] = min(max((median / shares[c]) ** exponent, 1.0), limit)
    return weights


@dataclass(frozen=True)
class VoxelWindow:
    """Scans accumulated into a key frame's dense pseudo labels.

    Attributes:
        back: scans before the key frame.
        forward: scans after it.
        empty: mark voxels the window's beams crossed without a return as empty.
        max_rays: beams traced for the empty voxels (an even subsample of the window's points).
        min_agreement: a voxel is labelled only when at least this share of its labelled points
            carry the majority label (0: always); the others stay unknown rather than teach a
            boundary or moving-object vote the window disagrees on.
        movable_reach: points whose pseudo label is a movable class vote only from the scans
            within this many scans of the key frame (0: the key scan alone; None: from the whole
            window like the others, trails included).
        follow_people: people and riders (`occle_core.pseudo.tracks.TRACKED_CLASS_NAMES`) of
            the other scans are moved to where they are at the key frame, followed from scan to
            scan; those not followed to the key frame are dropped. `movable_reach` then applies
            to the other movable classes only.
        carve_trails: voxels voted a movable class are made empty where the beams of the scans
            within this many scans of the key frame crossed them without a return (None: off).
            A moving object's trail lies where it is no longer, so the key frame's beams pass
            through it; a parked object's far side is occluded and stays. On by default (the
            key scan's beams): measured on the KITTI-like rig, +1.3 completion IoU points on
            every training seed at the same mIoU; on the surround rig no gain, so
            `occle pseudo-label --layout occ3d` leaves it off (docs/training.md, lever 8).
        vote_balance: exponent of the weight of a static class's votes, (median share / its
            share of the sequence's labelled points) ** vote_balance (0: plain majority; see
            the module docstring and `static_vote_weights`); off by default (measured: no
            gain in training, docs/training.md, lever 9).
    """

    back: int = 10
    forward: int = 20
    empty: bool = True
    max_rays: int = 200_000
    min_agreement: float = 0.0
    movable_reach: int | None = None
    follow_people: bool = False
    carve_trails: int | None = 0
    vote_balance: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.vote_balance <= 2.0:
            raise ValueError(
                f"VoxelWindow: vote_balance must be in [0, 2], got {self.vote_balance}"
            )
        if self.back < 0 or self.forward < 0:
            raise ValueError(f"VoxelWindow: window {self.back}/{self.forward} is negative")
        if self.movable_reach is not None and self.movable_reach < 0:
            raise ValueError(
                f"VoxelWindow: movable_reach must be >= 0 or None, got {self.movable_reach}"
            )
        if self.carve_trails is not None and self.carve_trails < 0:
            raise ValueError(
                f"VoxelWindow: carve_trails must be >= 0 or None, got {self.carve_trails}"
            )
        if self.max_rays <= 0:
            raise ValueError(f"VoxelWindow: max_rays must be positive, got {self.max_rays}")
        if not 0.0 <= self.min_agreement <= 1.0:
            raise ValueError(
                f"VoxelWindow: min_agreement must be in [0, 1], got {self.min_agreement}"
            )


def vote_grid(
    points: NDArray[np.floating],
    labels: NDArray[np.uint8],
    grid: GridSpec,
    num_classes: int,
    min_share: float = 0.0,
    class_weights: NDArray[np.floating] | None = None,
) -> NDArray[np.uint8]:
    """Majority pseudo label of the points in every voxel of `grid`.

    Args:
        points: (N, >=3) points in the grid's frame.
        labels: (N,) uint8 labels, 255 = unknown (ignored).
        grid: the voxel grid.
        num_classes: labels are 0..num_classes-1.
        min_share: the majority's least share of a voxel's labelled points (0: any).
        class_weights: (num_classes,) weight of one vote of each class (None: all 1).

    Returns:
        `grid.shape` uint8, the majority (ties: the lower class id), 255 where no labelled point
        or a weaker majority than `min_share`.
    """
    indices, inside = grid.points_to_indices(np.asarray(points)[:, :3])
    keep = inside & (labels != IGNORE)
    flat = grid.linear_indices(indices[keep])
    # Votes only for the voxels that hold points: a dense (voxels x classes) table of a
    # 256 x 256 x 32 grid would need 42 M counters.
    occupied, inverse = np.unique(flat, return_inverse=True)
    result = np.full(grid.shape, IGNORE, dtype=np.uint8)
    result.reshape(-1)[occupied] = vote_voxel_labels(
        inverse, labels[keep], len(occupied), num_classes, min_share, class_weights
    )
    return result


class DensePseudoLabeller:
    """Dense pseudo labels of the key frames of one sequence, reusing loaded scans.

    Args:
        sequence: the sequence; its per-point pseudo labels must be cached already.
        window: scans accumulated per key frame.
        num_classes: classes of the label set.
        empty_label: the label set's empty class (used when `window.empty`).
        movable: the label set's movable classes (`movable_class_ids`), limited to
            `window.movable_reach` scans around the key frame when that is set, and carved
            where `window.carve_trails` finds them seen empty.
        tracked: the label set's people and riders (`tracked_class_ids`), followed to the key
            frame when `window.follow_people` is set.
    """

    def __init__(
        self,
        sequence: SequenceSource,
        window: VoxelWindow,
        num_classes: int,
        empty_label: int = 0,
        movable: Sequence[int] = (),
        tracked: Sequence[int] = (),
    ):
        self.sequence = sequence
        self.window = window
        self.num_classes = num_classes
        self.empty_label = empty_label
        self.tracked = np.asarray(tracked if window.follow_people else (), dtype=np.uint8)
        self.movable = np.setdiff1d(np.asarray(movable, dtype=np.uint8), self.tracked)
        # Trails are carved for every movable class, followed or not.
        self.carved = np.union1d(self.movable, self.tracked)
        self._scans: dict[int, tuple[Frame, NDArray[np.uint8]]] = {}
        self._vote_weights: NDArray[np.float64] | None = None

    @property
    def vote_weights(self) -> NDArray[np.float64] | None:
        """(C,) weight of one vote of each class (`VoxelWindow.vote_balance`; None when 0),
        from the class shares of every scan's pseudo labels in the sequence (read once)."""
        if self.window.vote_balance == 0:
            return None
        if self._vote_weights is None:
            counts = np.zeros(self.num_classes, dtype=np.int64)
            for index in self.sequence.scan_ids:
                labels = self._point_labels(index)
                known = labels[labels != IGNORE]
                counts += np.bincount(known, minlength=self.num_classes)[: self.num_classes]
            static = sorted(
                set(range(self.num_classes)) - set(self.carved.tolist()) - {self.empty_label}
            )
            self._vote_weights = static_vote_weights(counts, static, self.window.vote_balance)
        return self._vote_weights

    def _point_labels(self, index: int) -> NDArray[np.uint8]:
        if index in self._scans:
            return self._scans[index][1]
        points = self.sequence.frame(index, load_image=False).points
        return read_point_pseudo_labels(pseudo_points_path(self.sequence, index), len(points))

    def _scan(self, index: int) -> tuple[Frame, NDArray[np.uint8]]:
        if index not in self._scans:
            frame = self.sequence.frame(index, load_image=False)
            labels = read_point_pseudo_labels(
                pseudo_points_path(self.sequence, index), len(frame.points)
            )
            self._scans[index] = (frame, labels)
        return self._scans[index]

    def __call__(self, index: int) -> NDArray[np.uint8]:
        """(X, Y, Z) uint8 dense pseudo labels of key frame `index` (255 = unknown; the empty
        class where the window saw free space)."""
        first, last = index - self.window.back, index + self.window.forward
        for stale in [i for i in self._scans if i < first]:  # key frames come in order
            del self._scans[stale]
        window = [i for i in self.sequence.scan_ids if first <= i <= last]
        scans = [self._scan(i) for i in window]
        reference = self._scan(index)[0]
        aggregated = aggregate_frames([frame for frame, _ in scans], reference)
        labels = np.concatenate([labels for _, labels in scans])
        points, source = aggregated.points, aggregated.source
        reach = self.window.movable_reach
        if reach is not None and self.movable.size:
            # A movable point of a scan far from the key frame is where the object was then,
            # not where it is now: dropped from the votes and from the free-space rays.
            distance = np.abs(np.asarray(window)[source] - index)
            keep = (distance <= reach) | ~np.isin(labels, self.movable)
            points, source, labels = points[keep], source[keep], labels[keep]
        voters, voter_labels = points, labels
        if self.tracked.size:
            key = window.index(index)
            kept, shift = follow_objects(points, labels, source, key, self.tracked)
            voters = points[kept].copy()
            voters[:, :2] += shift[kept]
            voter_labels = labels[kept]
            # A person's return of another scan ended its beam where the person was then; as
            # a ray end it would keep that (now empty) voxel from being carved.
            moved = np.isin(labels, self.tracked) & (source != key)
            points, source = points[~moved], source[~moved]
        grid = self.sequence.grid
        result = vote_grid(
            voters,
            voter_labels,
            grid,
            self.num_classes,
            self.window.min_agreement,
            self.vote_weights,
        )
        if not self.window.empty and self.window.carve_trails is None:
            return result
        # The rays start at each scan's LiDAR (`sequence.poses`), which for an Occ3D scene
        # sits above the ego origin its frame is expressed in.
        ref_from_world = invert_rigid(reference.pose)
        poses = self.sequence.poses
        origins = np.stack([(ref_from_world @ poses[i])[:3, 3] for i in window])
        if self.window.carve_trails is not None and self.carved.size:
            near = np.abs(np.asarray(window)[source] - index) <= self.window.carve_trails
            seen_free = lidar_evidence(
                points[near],
                origins,
                source[near],
                grid,
                max_rays=self.window.max_rays,
                clearance=(1, 1, 0),
            )
            trail = np.isin(result, self.carved) & (seen_free == FREE)
            result[trail] = self.empty_label if self.window.empty else IGNORE
        if self.window.empty:
            evidence = lidar_evidence(
                points,
                origins,
                source,
                grid,
                max_rays=self.window.max_rays,
                clearance=(1, 1, 0),
            )
            result[evidence == FREE] = self.empty_label
        return result
