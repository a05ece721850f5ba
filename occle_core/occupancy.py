"""`OccupancyGrid`: the result type every writer, metric and publisher consumes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from occle_core.geometry.grid import GridSpec


@dataclass
class OccupancyGrid:
    """A semantic voxel grid.

    Attributes:
        grid: geometry of the grid.
        labels: uint8 array of shape `grid.shape`, one class index per voxel.
        class_names: name of each class index.
        empty_label: index meaning "free space" (0 on SemanticKITTI, 17 on Occ3D).
        ignore_label: index meaning "unknown / not evaluated" (255).
        confidence: optional uint8 array like `labels`, 0..255 for probability 0..1.
        stamp: time of the sensor data the grid describes, seconds.
        frame_id: identifier of the source frame.
    """

    grid: GridSpec
    labels: NDArray[np.uint8]
    class_names: tuple[str, ...]
    empty_label: int = 0
    ignore_label: int = 255
    confidence: NDArray[np.uint8] | None = None
    stamp: float = 0.0
    frame_id: str = ""

    def __post_init__(self) -> None:
        if self.labels.shape != self.grid.shape:
            raise ValueError(
                f"OccupancyGrid {self.frame_id}: labels have shape {self.labels.shape},"
                f" grid expects {self.grid.shape}"
            )
        if self.labels.dtype != np.uint8:
            raise ValueError(
                f"OccupancyGrid {self.frame_id}: labels dtype {self.labels.dtype}, expected uint8"
            )
        if self.confidence is not None and self.confidence.shape != self.labels.shape:
            raise ValueError(
                f"OccupancyGrid {self.frame_id}: confidence shape "
                f"{self.confidence.shape} differs from labels {self.labels.shape}"
            )

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def occupied_mask(self) -> NDArray[np.bool_]:
        """True where a voxel holds a class (neither empty nor ignored)."""
        return (self.labels != self.empty_label) & (self.labels != self.ignore_label)

    def occupied_indices(self) -> NDArray[np.int64]:
        """(K,) C-order flat indices of the occupied voxels, ascending."""
        return np.flatnonzero(self.occupied_mask().ravel())

    def class_histogram(self) -> NDArray[np.int64]:
        """(num_classes,) voxel count per class index (ignored voxels excluded)."""
        valid = self.labels[self.labels != self.ignore_label]
        return np.bincount(valid.ravel(), minlength=self.num_classes)[: self.num_classes]
