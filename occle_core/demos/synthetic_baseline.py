"""The LiDAR point-label baseline of the demo, written in the official submission layout.

The baseline labels every voxel that holds returns of the current scan with the majority class
of those returns (ground-truth point labels: an oracle on what one scan sees), and leaves
everything else empty: it sees no occluded or unobserved space, so its completion IoU shows how
much of the scene a single scan misses.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from occle_core.data.semantickitti import SemanticKittiSequence, write_prediction
from occle_core.eval import SSCScores, evaluate_semantickitti
from occle_core.geometry.grid import GridSpec
from occle_core.geometry.voxelize import voxelize

NUM_CLASSES = 20


def point_label_baseline(
    points: NDArray[np.float32], classes: NDArray[np.uint8], grid: GridSpec
) -> NDArray[np.uint8]:
    """Voxels holding returns get the majority class of their returns; the rest stays empty.

    Args:
        points: (N, >=4) scan in the grid frame.
        classes: (N,) training class of each return.
        grid: the voxel grid.

    Returns:
        (grid.shape) uint8 prediction.
    """
    voxels = voxelize(points, grid, max_points=1)
    inside = voxels.point_voxel >= 0
    votes = np.zeros((voxels.num_voxels, NUM_CLASSES), dtype=np.int32)
    np.add.at(votes, (voxels.point_voxel[inside], classes[inside]), 1)
    prediction = np.zeros(grid.shape, dtype=np.uint8)
    prediction[tuple(voxels.coords.T)] = votes.argmax(axis=1)
    return prediction


def score_baseline(dataset: Path, sequence_name: str, out: Path) -> SSCScores:
    """Predict every voxel-labelled frame of a sequence with `point_label_baseline` (from its
    ground-truth point labels), write them under `out` in the submission layout, and score them
    with the official SSC metric."""
    sequence = SemanticKittiSequence(dataset, sequence_name)
    for index in sequence.voxel_ids:
        frame = sequence.frame(index, load_image=False)
        classes, _ = sequence.point_labels(index, len(frame.points))
        prediction = point_label_baseline(frame.points, classes, sequence.grid)
        write_prediction(out, sequence.sequence, index, prediction)
    return evaluate_semantickitti(dataset, out, [sequence.sequence])
