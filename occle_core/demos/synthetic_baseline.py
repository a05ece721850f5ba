"""The README's main job on the embedded default: a synthetic SemanticKITTI-format dataset, a
LiDAR point-label baseline written in the official submission layout, and its official score.

The baseline labels every voxel that holds returns of the current scan with the majority class
of those returns, and leaves everything else empty: it sees no occluded or unobserved space, so
its completion IoU shows how much of the scene a single scan misses. The learned model replaces
it once training lands.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from occle_core.data.semantickitti import SemanticKittiSequence, write_prediction
from occle_core.data.synthetic.generate import SequenceReport, SynthConfig, write_synthetic_dataset
from occle_core.eval import SSCScores, evaluate_semantickitti
from occle_core.eval.report import format_table, write_json_report
from occle_core.geometry.grid import GridSpec
from occle_core.geometry.voxelize import voxelize
from occle_core.io.atomic import atomic_write_bytes

NUM_CLASSES = 20


@dataclass(frozen=True)
class BaselineResult:
    """What the synthetic baseline job produced.

    Attributes:
        dataset: the generated dataset root.
        predictions: the submission root (sequences/XX/predictions/).
        scores: official SSC scores of the baseline.
        reports: generation report per sequence.
    """

    dataset: Path
    predictions: Path
    scores: SSCScores
    reports: list[SequenceReport]


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


def run_synthetic_baseline(
    out: Path,
    frames: int = 20,
    seed: int = 0,
    progress: Callable[[str, str, int, int], None] = lambda *_: None,
) -> BaselineResult:
    """Generate `out/synthetic`, predict with the baseline into `out/predictions`, score it.

    Writes `out/metrics.json`, `out/metrics.txt` and `out/preview.png`.
    """
    dataset, predictions = out / "synthetic", out / "predictions"
    reports = write_synthetic_dataset(
        dataset, ["00"], SynthConfig(frames=frames, seed=seed), progress=progress
    )
    sequence = SemanticKittiSequence(dataset, 0)
    for index in sequence.voxel_ids:
        frame = sequence.frame(index, load_image=False)
        classes, _ = sequence.point_labels(index, len(frame.points))
        write_prediction(
            predictions, 0, index, point_label_baseline(frame.points, classes, sequence.grid)
        )
    scores = evaluate_semantickitti(dataset, predictions, [0])
    write_json_report(out / "metrics.json", scores)
    atomic_write_bytes(out / "metrics.txt", (format_table(scores) + "\n").encode())
    preview = sequence.path / "preview" / f"{sequence.voxel_ids[-1]:06d}.png"
    atomic_write_bytes(out / "preview.png", preview.read_bytes())
    return BaselineResult(dataset, predictions, scores, reports)
