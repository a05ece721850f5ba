"""What the training, inference and pseudo-label code needs from a dataset "sequence": numbered
frames in time order, some with voxel ground truth. `SemanticKittiSequence` (sequences/XX) and
`Occ3DScene` (a nuScenes scene's key frames) both provide it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from occle_core.data.semantickitti.sequence import VoxelGroundTruth
from occle_core.frame import Frame
from occle_core.geometry.grid import GridSpec


class SequenceSource(Protocol):
    """Attributes:
    sequence: the sequence (scene) name.
    path: folder for our per-sequence caches (pseudo labels).
    grid: the ground truth's voxel grid.
    labels: the label set (`class_names`).
    """

    sequence: str
    path: Path
    grid: GridSpec
    labels: Any

    @property
    def scan_ids(self) -> list[int]:
        """Frame numbers, sorted."""
        ...

    @property
    def voxel_ids(self) -> list[int]:
        """Frames with voxel ground truth, sorted."""
        ...

    @property
    def poses(self) -> NDArray[np.float64]:
        """(N, 4, 4) world poses of the LiDAR (ray origins) of every frame."""
        ...

    def frame(self, index: int, load_image: bool = True) -> Frame:
        """Frame `index`: points, images and cameras in the grid's frame, its pose."""
        ...

    def voxel_ground_truth(self, index: int) -> VoxelGroundTruth:
        """Ground truth of frame `index`: classes, 255 where not labelled."""
        ...
