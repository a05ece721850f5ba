"""Training and validation samples from a SemanticKITTI-layout dataset (real or synthetic).

A sample is one scan t with the scans t-N+1..t aggregated into its LiDAR frame, the camera image
of t, the voxel labels the label budget leaves (only on frames with voxel ground truth), the
cached 2D pseudo labels of t and the lifted per-point pseudo labels of the aggregated scans, and
the LiDAR occupied/free evidence on the model's fusion grid.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from occle_core.data.semantickitti.sequence import SemanticKittiSequence
from occle_core.data.source import SequenceSource
from occle_core.errors import DataFormatError
from occle_core.frame import Frame
from occle_core.geometry.aggregate import aggregate_scans
from occle_core.geometry.raytrace import FREE, UNKNOWN, lidar_evidence
from occle_core.geometry.transforms import invert_rigid
from occle_core.io.images import read_label_image
from occle_core.model.config import OccLEConfig
from occle_core.pseudo.cache import (
    pseudo_image_path,
    pseudo_points_path,
    pseudo_voxels_path,
    read_point_pseudo_labels,
    read_voxel_pseudo_labels,
)
from occle_core.pseudo.voxels import movable_class_ids
from occle_core.train.budget import IGNORE, LabelBudget
from occle_core.train.transfer import (
    carried_labels,
    carried_where,
    merge_carried,
    nearest_source,
)


@dataclass
class TrainingSample:
    """One training or validation sample.

    Attributes:
        key: "SS/NNNNNN".
        frame: the aggregated points (N, 4) and the images and cameras of scan t.
        labels: (X, Y, Z) uint8 voxel labels after the label budget (255 = not supervised),
            or None when the frame has no voxel ground truth.
        truth: (X, Y, Z) uint8 complete voxel ground truth (255 = invalid) or None.
        image_pseudo: one (H, W) uint8 pseudo-label map per camera (empty without pseudo labels).
        point_pseudo: (N,) uint8 lifted pseudo label per aggregated point (255 = unknown).
        evidence: (x, y, z) int8 LiDAR evidence on the fusion grid: 1 occupied, 0 free,
            -1 unknown.
        free_space: (X, Y, Z) bool, full-resolution voxels a LiDAR beam crossed, clear of
            every return by one voxel horizontally (see `lidar_evidence`), or None.
        dense_pseudo: (X, Y, Z) uint8 dense voxel pseudo labels of a key frame (255 = unknown;
            `occle_core.pseudo.voxels`), or None where not cached or not wanted.
    """

    key: str
    frame: Frame
    labels: NDArray[np.uint8] | None
    truth: NDArray[np.uint8] | None
    image_pseudo: list[NDArray[np.uint8]]
    point_pseudo: NDArray[np.uint8]
    evidence: NDArray[np.int8]
    free_space: NDArray[np.bool_] | None = None
    dense_pseudo: NDArray[np.uint8] | None = None


class OccupancyDataset:
    """Samples of some sequences of a dataset root.

    Args:
        root: dataset root (SemanticKITTI layout, `occle_dataset.yaml` respected).
        sequences: sequence names.
        config: the model configuration (grid, fusion grid).
        scans: scans aggregated per sample (t-scans+1..t).
        budget: label budget for the voxel labels (None: every label is kept).
        key_frames_only: only frames with voxel ground truth (validation); otherwise every scan.
        pseudo_labels: read the cached pseudo labels (`occle pseudo-label`); an error names the
            missing file when they are absent.
        evidence: trace the LiDAR rays for occupied/free evidence (training only; validation
            gets an all-unknown grid and skips the cost).
        free_space: also trace full-resolution free space (`TrainingSample.free_space`, for
            `objective.final_free`).
        dense_pseudo: read the cached dense voxel pseudo labels of key frames (frames with voxel
            ground truth files; an error names the file when one is missing).
        opened: the sequences, already opened (`occle_core.train.sources`: another layout than
            SemanticKITTI's); `root` and `sequences` are then not used to open them.
        label_transfer: the dense pseudo labels of a key frame whose labels the budget drops
            get the static classes of the nearest labelled key frame within this many scans,
            moved with the poses (`occle_core.train.transfer`; 0: off).
        transfer_into_labels: the carried labels become the frame's voxel labels (the labelled
            losses) instead of its dense pseudo labels (the pseudo CE).
        cache: keep every sample in memory after its first read (`data.cache_samples`). A
            sample depends only on its files and the budget, and nothing downstream writes into
            it, so a cached epoch is the same as a read one; worth it where the dataset fits in
            memory (the synthetic experiments: 40 key frames, about 0.9 MB each).
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        sequences: Sequence[str],
        config: OccLEConfig,
        scans: int = 3,
        budget: LabelBudget | None = None,
        key_frames_only: bool = False,
        pseudo_labels: bool = True,
        evidence: bool = True,
        free_space: bool = False,
        dense_pseudo: bool = False,
        opened: Sequence[SequenceSource] | None = None,
        cache: bool = False,
        label_transfer: int = 0,
        transfer_into_labels: bool = False,
    ):
        if scans < 1:
            raise ValueError(f"scans={scans}, expected >= 1")
        self.config = config
        self.scans = scans
        self._budget = budget
        self.pseudo_labels = pseudo_labels
        self.evidence = evidence
        self.free_space = free_space
        self.dense_pseudo = dense_pseudo and pseudo_labels
        self.fusion_grid = config.fusion_grid()
        self.cache: dict[int, TrainingSample] | None = {} if cache else None
        self.label_transfer = label_transfer
        self.transfer_into_labels = transfer_into_labels
        self._poses: dict[tuple[str, int], NDArray[np.float64]] = {}
        if opened is None:
            opened = [SemanticKittiSequence(root, name) for name in sequences]
        self.sequences: dict[str, SequenceSource] = {s.sequence: s for s in opened}
        self.items: list[tuple[str, int]] = []
        for sequence in opened:
            if sequence.grid.shape != config.grid.shape:
                raise DataFormatError(
                    sequence.path,
                    f"voxel grid {sequence.grid.shape} differs from model grid {config.grid.shape}",
                    "a model configuration made for this dataset",
                )
            ids = sequence.voxel_ids if key_frames_only else sequence.scan_ids
            self.items.extend((sequence.sequence, i) for i in ids)

    @property
    def budget(self) -> LabelBudget | None:
        """The label budget applied to the voxel labels."""
        return self._budget

    @budget.setter
    def budget(self, budget: LabelBudget | None) -> None:
        self._budget = budget
        if self.cache is not None:
            self.cache.clear()  # cached samples carry the old budget's labels

    def __len__(self) -> int:
        return len(self.items)

    def labelled_frames(self) -> dict[str, list[int]]:
        """Sequence -> its frames with voxel ground truth."""
        return {s: list(seq.voxel_ids) for s, seq in self.sequences.items()}

    def dense_pseudo_labels(self, name: str, index: int) -> NDArray[np.uint8]:
        """(X, Y, Z) uint8 cached dense voxel pseudo labels of key frame `index` of sequence
        `name` (255 = unknown)."""
        return read_voxel_pseudo_labels(
            pseudo_voxels_path(self.sequences[name], index), self.config.grid.shape
        )

    def __getitem__(self, item: int) -> TrainingSample:
        if self.cache is None:
            return self.read(item)
        if item not in self.cache:
            self.cache[item] = self.read(item)
        return self.cache[item]

    def read(self, item: int) -> TrainingSample:
        """Sample `item` from its files (no cache)."""
        name, index = self.items[item]
        sequence = self.sequences[name]
        key = f"{name}/{index:06d}"
        aggregated = aggregate_scans(sequence, index, self.scans)
        frame, history = aggregated.frame, aggregated.scans
        counts = np.bincount(aggregated.source, minlength=len(history))
        truth = labels = None
        if index in sequence.voxel_ids:
            truth = sequence.voxel_ground_truth(index).labels
            labels = truth if self.budget is None else self.budget.apply(name, index, truth)
        image_pseudo: list[NDArray[np.uint8]] = []
        dense_pseudo = None
        point_pseudo = np.full(len(frame.points), IGNORE, dtype=np.uint8)
        if self.pseudo_labels:
            image_pseudo = [
                read_label_image(pseudo_image_path(sequence, index, camera.name))
                for camera in frame.cameras
            ]
            # Each scan's cache is checked against that scan's point count.
            point_pseudo = np.concatenate(
                [
                    read_point_pseudo_labels(pseudo_points_path(sequence, i), int(count))
                    for i, count in zip(history, counts, strict=True)
                ]
            )
            if self.dense_pseudo and index in sequence.voxel_ids:
                dense_pseudo = self.dense_pseudo_labels(name, index)
        if labels is not None and (dense_pseudo is not None or self.transfer_into_labels):
            carried = self._carried(name, index, frame.pose)
            if carried is not None:
                movable = self._movable(name)
                if self.transfer_into_labels:
                    # Without dense pseudo labels (the labels-alone run) nothing says what has
                    # moved in since the labelled frame: every carried label is used.
                    now = np.full_like(carried, IGNORE) if dense_pseudo is None else dense_pseudo
                    use = carried_where(now, carried, movable)
                    labels = np.where(use, carried, labels).astype(np.uint8)
                elif dense_pseudo is not None:
                    dense_pseudo = merge_carried(dense_pseudo, carried, movable)
        evidence = np.full(self.fusion_grid.shape, UNKNOWN, dtype=np.int8)
        free_space = None
        if self.evidence:
            ref_from_world = invert_rigid(frame.pose)
            origins = np.stack([(ref_from_world @ sequence.poses[i])[:3, 3] for i in history])
            evidence = lidar_evidence(frame.points, origins, aggregated.source, self.fusion_grid)
            if self.free_space:
                fine = lidar_evidence(
                    frame.points, origins, aggregated.source, self.config.grid, clearance=(1, 1, 0)
                )
                free_space = fine == FREE
        return TrainingSample(
            key,
            frame,
            labels,
            truth,
            image_pseudo,
            point_pseudo,
            evidence,
            free_space,
            dense_pseudo,
        )

    def _carried(
        self, name: str, index: int, pose: NDArray[np.floating]
    ) -> NDArray[np.uint8] | None:
        """(X, Y, Z) the nearest labelled key frame's static labels moved into frame `index`
        (`label_transfer`); None when off, on a labelled frame, or with no labelled frame within
        reach."""
        budget = self.budget
        if self.label_transfer <= 0 or budget is None or budget.keeps_frame(name, index):
            return None
        source = nearest_source(budget.kept_frames(name), index, self.label_transfer)
        if source is None:
            return None
        sequence = self.sequences[name]
        if (name, source) not in self._poses:
            self._poses[(name, source)] = sequence.frame(source, load_image=False).pose
        labels = budget.apply(name, source, sequence.voxel_ground_truth(source).labels)
        return carried_labels(
            labels, self.config.grid, self._poses[(name, source)], pose, self._movable(name)
        )

    def _movable(self, name: str) -> tuple[int, ...]:
        return movable_class_ids(self.sequences[name].labels.class_names)

    def describe(self) -> dict[str, Any]:
        return {
            "sequences": list(self.sequences),
            "samples": len(self.items),
            "scans": self.scans,
            "pseudo_labels": self.pseudo_labels,
            "dense_pseudo": self.dense_pseudo,
            "label_transfer": self.label_transfer,
        }
