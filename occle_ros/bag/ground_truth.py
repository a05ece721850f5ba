"""Voxel ground truth that scores a bag replay: the SemanticKITTI sequence or the Occ3D scene the
bag was written from, matched to the predictions by stamp."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from occle_core.data.nuscenes.scene import Occ3DScene, open_occ3d_scenes
from occle_core.data.semantickitti.sequence import SemanticKittiSequence
from occle_core.errors import DataFormatError
from occle_core.eval.occ3d import Occ3DConfusion, Occ3DScores
from occle_core.eval.semantickitti import SSCConfusion, SSCScores
from occle_core.occupancy import OccupancyGrid
from occle_core.runtime import ModelRunner
from occle_ros.bag.to_bag import DEFAULT_START_NS, frame_of_stamp


class GroundTruth(Protocol):
    """Scores the outputs of a replay against a dataset's voxel ground truth."""

    def add(self, grid: OccupancyGrid) -> int | None:
        """Score a predicted grid; returns the ground-truth frame it was scored against, or
        None when its stamp is no ground-truth frame."""
        ...

    def scores(self) -> SSCScores | Occ3DScores:
        """The metrics of everything added so far."""
        ...


@dataclass
class KittiGroundTruth:
    """SemanticKITTI-format ground truth of the replayed sequence (stamps = start + times.txt)."""

    sequence: SemanticKittiSequence
    start_ns: int
    confusion: SSCConfusion

    def add(self, grid: OccupancyGrid) -> int | None:
        index = frame_of_stamp(self.sequence.times, self.start_ns, round(grid.stamp * 1e9))
        if index is None or index not in self.sequence.voxel_ids:
            return None
        self.confusion.add(grid.labels, self.sequence.voxel_ground_truth(index).labels)
        return index

    def scores(self) -> SSCScores:
        return self.confusion.scores()


@dataclass
class Occ3DGroundTruth:
    """Occ3D ground truth of the replayed scene: a frame is scored when its LiDAR stamp is a
    key frame's time (within 1 ms), inside `mask_camera` as the Occ3D metric counts."""

    scene: Occ3DScene
    confusion: Occ3DConfusion
    tolerance_ns: int = 1_000_000

    def __post_init__(self) -> None:
        self._times = np.array([round(s.timestamp * 1e9) for s in self.scene.samples], np.int64)

    def add(self, grid: OccupancyGrid) -> int | None:
        stamp = round(grid.stamp * 1e9)
        index = int(np.argmin(np.abs(self._times - stamp)))
        off_key_frame = abs(int(self._times[index]) - stamp) > self.tolerance_ns
        if off_key_frame or index not in self.scene.voxel_ids:
            return None
        self.confusion.add(grid.labels, self.scene.voxel_ground_truth(index).labels)
        return index

    def scores(self) -> Occ3DScores:
        return self.confusion.scores()


def open_ground_truth(
    bag: Path,
    runner: ModelRunner,
    root: str | os.PathLike[str],
    source_info: dict[str, Any],
    sequence: str | None,
    layout: str | None,
    info_file: str | None,
) -> GroundTruth:
    """The ground truth to score a replay against: flags first, then what the bag's
    `/occle/source` says (layout, sequence or scene, info file).

    Raises:
        DataFormatError: no sequence named, or a grid that differs from the model's.
    """
    sequence = sequence or source_info.get("sequence")
    if not sequence:
        raise DataFormatError(bag, "no /occle/source message naming the sequence", "--gt-sequence")
    layout = layout or source_info.get("layout", "semantickitti")
    if layout == "occ3d":
        info = info_file or source_info.get("info_file")
        if not info:
            raise DataFormatError(
                bag, "no /occle/source message naming the info file", "--gt-info-file"
            )
        (scene,) = open_occ3d_scenes(root, info, [sequence], mask="camera")
        truth: GroundTruth = Occ3DGroundTruth(scene, Occ3DConfusion(runner.class_names))
        grid = scene.grid
    else:
        kitti = SemanticKittiSequence(root, sequence)
        start = int(source_info.get("start_ns", DEFAULT_START_NS))
        truth = KittiGroundTruth(kitti, start, SSCConfusion(runner.class_names))
        grid = kitti.grid
    if grid.shape != runner.config.grid.shape:
        raise DataFormatError(
            root,
            f"ground-truth grid {grid.shape} of {sequence}",
            f"the model's grid {runner.config.grid.shape}",
        )
    return truth
