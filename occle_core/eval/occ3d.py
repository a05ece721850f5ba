"""Occ3D-nuScenes metrics, as the CVPR 2023 occupancy challenge's `Metric_mIoU` computes them.

With `use_image_mask=True` (the official setting) only voxels inside `mask_camera` are counted.
The confusion matrix has **rows = ground truth, columns = prediction** (`hist_info`), ground-truth
values outside 0..17 are skipped, and it is summed over all samples in float64. Then

* per-class IoU = diag / (row sum + column sum - diag), NaN for a class absent from both the
  ground truth and the prediction;
* mIoU = nanmean of the IoU of classes 0..16: "free" (17) is not averaged, absent classes are
  skipped.

The operations match the official ones, so the numbers are bit-identical.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from occle_core.data.nuscenes.occ3d import (
    OCC3D_CLASS_NAMES,
    find_occ3d_samples,
    occ3d_prediction_path,
    read_occ3d_labels,
    read_occ3d_prediction,
)
from occle_core.data.nuscenes.scene import occ3d_dataset_grid
from occle_core.errors import DataFormatError

Path_ = str | os.PathLike[str]
_MAX_LISTED = 10


@dataclass(frozen=True)
class Occ3DScores:
    """Occ3D results. Values are fractions in [0, 1] (see `report` for percent); NaN = absent.

    Attributes:
        class_names: name of every class, the last one being "free" (18 on Occ3D-nuScenes).
        iou: per-class IoU of every class, "free" included; NaN for classes absent from both the
            ground truth and the prediction.
        miou: nanmean of `iou` without the last ("free") class; NaN if all of them are NaN.
        num_frames: number of samples accumulated.
        confusion: (C, C) float64 counts, rows = ground-truth class, columns = predicted class.
    """

    class_names: tuple[str, ...]
    iou: tuple[float, ...]
    miou: float
    num_frames: int
    confusion: NDArray[np.float64] = field(compare=False, repr=False)

    def class_iou(self) -> dict[str, float]:
        """IoU of the averaged classes (all but "free"), keyed by class name (fractions)."""
        return {name: self.iou[c] for c, name in enumerate(self.class_names[:-1])}

    def geometry_iou(self) -> float:
        """IoU of "occupied" (any class but free) against free, over the counted voxels: the
        completion IoU of the SSC benchmarks. Not part of the official Occ3D metric."""
        free = len(self.class_names) - 1
        hit = self.confusion[:free, :free].sum()
        union = self.confusion[:free, :].sum() + self.confusion[:, :free].sum() - hit
        return float(hit / union) if union else float("nan")


class Occ3DConfusion:
    """Accumulates the Occ3D confusion matrix (rows = ground truth, columns = prediction).

    Args:
        class_names: name of each class, the last one being free space. Default: Occ3D-nuScenes.
    """

    def __init__(self, class_names: Sequence[str] = OCC3D_CLASS_NAMES):
        self.class_names: tuple[str, ...] = tuple(class_names)
        if len(self.class_names) < 2:
            raise ValueError("Occ3DConfusion: need at least 2 classes (one class and free)")
        self.num_classes = len(self.class_names)
        self._hist = np.zeros((self.num_classes, self.num_classes), dtype=np.float64)
        self.num_frames = 0

    def reset(self) -> None:
        """Forget everything accumulated so far."""
        self._hist[:] = 0
        self.num_frames = 0

    @property
    def confusion(self) -> NDArray[np.float64]:
        """(C, C) float64 copy of the counts, rows = ground-truth, columns = predicted class."""
        return self._hist.copy()

    def add(
        self,
        pred: NDArray[np.integer],
        gt: NDArray[np.integer],
        mask: NDArray[np.bool_] | None = None,
    ) -> None:
        """Add one sample (`Metric_mIoU.add_batch`; one call counts as one frame).

        Args:
            pred: (...) predicted classes 0..C-1, e.g. (200, 200, 16).
            gt: (...) ground-truth classes; values outside 0..C-1 (e.g. 255) are skipped.
            mask: optional (...) bool evaluation mask (`mask_camera` in the official setting).

        Raises:
            ValueError: shapes differ, or a prediction is out of range where the GT is counted.
        """
        pred_a, gt_a = np.asarray(pred), np.asarray(gt)
        if pred_a.shape != gt_a.shape or (mask is not None and np.shape(mask) != gt_a.shape):
            raise ValueError(
                f"Occ3DConfusion.add: shapes pred {pred_a.shape}, gt {gt_a.shape}, "
                f"mask {None if mask is None else np.shape(mask)} differ"
            )
        if mask is not None:
            selected = np.asarray(mask, dtype=bool)
            pred_a, gt_a = pred_a[selected], gt_a[selected]
        n = self.num_classes
        keep = (gt_a >= 0) & (gt_a < n)
        gt_k, pred_k = gt_a[keep].astype(np.intp), pred_a[keep].astype(np.intp)
        if pred_k.size and (pred_k.min() < 0 or pred_k.max() >= n):
            bad = np.unique(pred_k[(pred_k < 0) | (pred_k >= n)])[:_MAX_LISTED].tolist()
            raise ValueError(f"Occ3DConfusion.add: pred holds classes {bad}, expected 0..{n - 1}")
        self._hist += np.bincount(n * gt_k + pred_k, minlength=n * n).reshape(n, n)
        self.num_frames += 1

    def merge(self, other: Occ3DConfusion) -> None:
        """Add the counts of another accumulator with the same classes (e.g. another worker)."""
        if other.class_names != self.class_names:
            raise ValueError("Occ3DConfusion.merge: class names differ")
        self._hist += other._hist
        self.num_frames += other.num_frames

    def scores(self) -> Occ3DScores:
        """The official metrics of everything accumulated so far."""
        return occ3d_scores(self._hist, self.class_names, self.num_frames)


def occ3d_scores(
    hist: NDArray[np.floating], class_names: Sequence[str], num_frames: int = 0
) -> Occ3DScores:
    """Official Occ3D metrics of a confusion matrix (rows = ground truth, columns = prediction).

    Args:
        hist: (C, C) counts; the last class is free space and is left out of the mean.
        class_names: C class names.
        num_frames: stored in the result.
    """
    hist64 = np.asarray(hist, dtype=np.float64)
    diag = np.diag(hist64)
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = diag / (hist64.sum(1) + hist64.sum(0) - diag)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "Mean of empty slice" when all are NaN
        miou = np.nanmean(iou[: len(class_names) - 1])
    return Occ3DScores(
        class_names=tuple(class_names),
        iou=tuple(float(v) for v in iou),
        miou=float(miou),
        num_frames=num_frames,
        confusion=hist64.copy(),
    )


def _listed(values: Sequence[str]) -> str:
    shown = ", ".join(values[:_MAX_LISTED])
    return shown + (f", ... ({len(values)} in all)" if len(values) > _MAX_LISTED else "")


def _prediction_files(
    gts_root: Path_, predictions_root: Path_, scenes: Sequence[str] | None = None
) -> list[tuple[Path, Path]]:
    """(ground truth, prediction) file pairs; raises if a prediction is missing."""
    samples = find_occ3d_samples(gts_root)
    if scenes is not None:
        unknown = sorted(set(scenes) - {s.scene for s in samples})
        if unknown:
            raise DataFormatError(gts_root, f"no scene(s) {unknown}", "GTS/<scene>/...")
        samples = [s for s in samples if s.scene in set(scenes)]
    if not samples:
        raise DataFormatError(
            gts_root, "no ground-truth samples found", "GTS/<scene>/<token>/labels.npz"
        )
    if not Path(predictions_root).is_dir():
        raise DataFormatError(predictions_root, "prediction folder not found", "PRED/<token>.npz")
    pairs = [(s.path, occ3d_prediction_path(predictions_root, s.token)) for s in samples]
    missing = [str(pred) for _, pred in pairs if not pred.is_file()]
    if missing:
        raise DataFormatError(
            predictions_root,
            f"{len(missing)} of {len(pairs)} prediction files are missing: {_listed(missing)}",
            "one PRED/<token>.npz per ground-truth sample",
        )
    return pairs


def evaluate_occ3d(
    gts_root: Path_,
    predictions_root: Path_,
    shape: tuple[int, int, int] | None = None,
    scenes: Sequence[str] | None = None,
) -> Occ3DScores:
    """Evaluate Occ3D-nuScenes predictions with the camera mask, like the official challenge.

    Args:
        gts_root: folder holding `<scene>/<token>/labels.npz`.
        predictions_root: folder holding `<token>.npz` with (200, 200, 16) classes under `arr_0`.
        shape: the grid shape (default: the official one, or the one `occle_dataset.yaml` next
            to `gts_root` describes for a synthetic dataset).
        scenes: only the samples of these scenes (default: all).

    Returns:
        The scores over all ground-truth samples.

    Raises:
        DataFormatError: no ground truth, missing or unreadable predictions (naming the files).
    """
    if shape is None:
        shape = occ3d_dataset_grid(Path(gts_root).parent).shape
    confusion = Occ3DConfusion()
    for gt_file, pred_file in _prediction_files(gts_root, predictions_root, scenes):
        gt = read_occ3d_labels(gt_file, shape)
        pred = read_occ3d_prediction(pred_file, shape)
        confusion.add(pred, gt.semantics, gt.mask_camera)
    return confusion.scores()
