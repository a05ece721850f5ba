"""SemanticKITTI semantic scene completion (SSC) metrics, as `evaluate_completion.py` computes them.

The official script (PRBonn/semantic-kitti-api) maps ground truth and predictions through the
completion lookup table (raw 0 -> 0 "empty", raw ids of "unlabeled" classes -> 255), keeps the
voxels whose ground truth is not 255 and not `.invalid`, and accumulates one confusion matrix
over the whole split with rows = prediction, columns = ground truth. We store its transpose,
**rows = ground truth, columns = prediction**, the orientation of the Occ3D metric (`hist_info`),
so one reading serves both metrics; the sums below are the official ones on that matrix. From it:

* per-class IoU = tp / (tp + fp + fn + 1e-15), for all 20 classes;
* mIoU = mean of the IoU of classes 1..19 (a class absent from both GT and prediction counts 0);
* precision / recall / completion IoU of "occupied" (any class >= 1) against "empty" (class 0).

Every number here is computed with the same numpy operations in the same order, so the results
are bit-identical to the official script. Where the official script would crash (a prediction
id outside the label table, or a prediction id that maps to no class at an evaluated voxel), we
raise a DataFormatError that names the file and the ids instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from occle_core.data.semantickitti.files import read_voxel_bits, read_voxel_labels
from occle_core.data.semantickitti.labels import IGNORE, SemanticKittiLabels, load_label_config
from occle_core.data.semantickitti.sequence import SemanticKittiSequence, prediction_path
from occle_core.errors import DataFormatError

Path_ = str | os.PathLike[str]

#: Added to the union of the per-class IoU (np_ioueval.py).
IOU_EPSILON = 1e-15
#: Added to the denominators of precision and recall (evaluate_completion.py).
COMPLETION_EPSILON = np.finfo(np.float32).eps
_MAX_LISTED = 10


@dataclass(frozen=True)
class SSCScores:
    """SemanticKITTI SSC results. All values are fractions in [0, 1] (see `report` for percent).

    Attributes:
        class_names: name of every training class, index 0 = "empty" (20 on the official config).
        iou: per-class IoU for every class, index 0 (empty) included, like `iouEval.getIoU`.
        miou: mean IoU over classes 1..num_classes-1 (the official "mIoU SSC").
        precision: occupied-voxel precision (scene completion).
        recall: occupied-voxel recall (scene completion).
        completion_iou: occupied-voxel IoU ("IoU Cmpltn"); NaN when no voxel is occupied in
            either the ground truth or the prediction.
        num_frames: number of frames accumulated.
        confusion: (C, C) int64 counts, rows = ground-truth class, columns = predicted class
            (the orientation of `Occ3DScores.confusion` too).
    """

    class_names: tuple[str, ...]
    iou: tuple[float, ...]
    miou: float
    precision: float
    recall: float
    completion_iou: float
    num_frames: int
    confusion: NDArray[np.int64] = field(compare=False, repr=False)

    def class_iou(self) -> dict[str, float]:
        """IoU of the evaluated classes 1..C-1, keyed by class name (fractions)."""
        return {name: self.iou[c] for c, name in enumerate(self.class_names) if c > 0}


def _check_classes(values: NDArray[np.integer], num_classes: int, what: str) -> None:
    if values.size and (values.min() < 0 or values.max() >= num_classes):
        bad = np.unique(values[(values < 0) | (values >= num_classes)])[:_MAX_LISTED].tolist()
        raise ValueError(
            f"SSCConfusion.add: {what} holds classes {bad}, expected 0..{num_classes - 1}"
        )


class SSCConfusion:
    """Accumulates the SSC confusion matrix over frames (rows = ground truth, cols = prediction).

    Works on training classes (0 empty, 1..C-1, 255 ignored in the ground truth), so it serves
    both the file-based evaluation and validation during training.

    Args:
        class_names: name of each training class, index 0 = empty. Default: the official
            SemanticKITTI configuration (20 classes).
    """

    def __init__(self, class_names: Sequence[str] | None = None):
        names = class_names if class_names is not None else load_label_config().class_names
        self.class_names: tuple[str, ...] = tuple(names)
        if len(self.class_names) < 2:
            raise ValueError("SSCConfusion: need at least 2 classes (empty and one class)")
        self.num_classes = len(self.class_names)
        self._matrix = np.zeros((self.num_classes, self.num_classes), dtype=np.int64)
        self.num_frames = 0

    def reset(self) -> None:
        """Forget everything accumulated so far."""
        self._matrix[:] = 0
        self.num_frames = 0

    @property
    def confusion(self) -> NDArray[np.int64]:
        """(C, C) int64 copy of the counts, rows = ground-truth class, columns = predicted class."""
        return self._matrix.copy()

    def add(
        self,
        pred: NDArray[np.integer],
        gt: NDArray[np.integer],
        valid: NDArray[np.bool_] | None = None,
    ) -> None:
        """Add one frame (or a batch of frames, counted as one call).

        Args:
            pred: (...) predicted training classes 0..C-1, any integer dtype.
            gt: (...) ground-truth training classes 0..C-1, or 255 for ignored voxels.
            valid: optional (...) bool, False for voxels to skip (e.g. `.invalid` voxels).

        Raises:
            ValueError: shapes differ, or a class is out of range at an evaluated voxel.
        """
        pred_a, gt_a = np.asarray(pred), np.asarray(gt)
        if pred_a.shape != gt_a.shape or (valid is not None and np.shape(valid) != gt_a.shape):
            raise ValueError(
                f"SSCConfusion.add: shapes pred {pred_a.shape}, gt {gt_a.shape}, "
                f"valid {None if valid is None else np.shape(valid)} differ"
            )
        mask = gt_a != IGNORE
        if valid is not None:
            mask &= np.asarray(valid, dtype=bool)
        pred_m, gt_m = pred_a[mask].astype(np.intp), gt_a[mask].astype(np.intp)
        _check_classes(pred_m, self.num_classes, "pred")
        _check_classes(gt_m, self.num_classes, "gt")
        self.add_pairs(pred_m, gt_m)

    def add_pairs(self, pred: NDArray[np.intp], gt: NDArray[np.intp]) -> None:
        """Count already masked and checked (pred, gt) class pairs; one call = one frame.

        Args:
            pred: (N,) predicted classes in 0..C-1.
            gt: (N,) ground-truth classes in 0..C-1.
        """
        n = self.num_classes
        counts = np.bincount(gt * n + pred, minlength=n * n)
        self._matrix += counts.reshape(n, n)
        self.num_frames += 1

    def merge(self, other: SSCConfusion) -> None:
        """Add the counts of another accumulator with the same classes (e.g. another worker)."""
        if other.class_names != self.class_names:
            raise ValueError("SSCConfusion.merge: class names differ")
        self._matrix += other._matrix
        self.num_frames += other.num_frames

    def scores(self) -> SSCScores:
        """The official metrics of everything accumulated so far."""
        return ssc_scores(self._matrix, self.class_names, self.num_frames)


def ssc_scores(
    conf: NDArray[np.int64], class_names: Sequence[str], num_frames: int = 0
) -> SSCScores:
    """Official SSC metrics of a confusion matrix (rows = ground truth, columns = prediction).

    Args:
        conf: (C, C) int64 counts.
        class_names: C class names, index 0 = empty.
        num_frames: stored in the result.
    """
    tp = np.diag(conf)
    fp = conf.sum(axis=0) - tp  # predicted as c, another class in truth
    fn = conf.sum(axis=1) - tp
    iou = tp / (tp + fp + fn + IOU_EPSILON)
    occupied_hits = np.sum(conf[1:, 1:])
    precision = occupied_hits / (np.sum(conf[:, 1:]) + COMPLETION_EPSILON)
    recall = occupied_hits / (np.sum(conf[1:, :]) + COMPLETION_EPSILON)
    with np.errstate(divide="ignore", invalid="ignore"):
        completion = occupied_hits / (np.sum(conf) - conf[0, 0])
    return SSCScores(
        class_names=tuple(class_names),
        iou=tuple(float(v) for v in iou),
        miou=float(iou[1:].mean()),
        precision=float(precision),
        recall=float(recall),
        completion_iou=float(completion),
        num_frames=num_frames,
        confusion=conf.copy(),
    )


# --- files ----------------------------------------------------------------------------------------
def _listed(ids: Iterable[object]) -> str:
    values = list(ids)
    shown = ", ".join(str(v) for v in values[:_MAX_LISTED])
    return shown + (f", ... ({len(values)} in all)" if len(values) > _MAX_LISTED else "")


def _remap(raw: NDArray[np.uint16], lut: NDArray[np.uint8], source: Path) -> NDArray[np.uint8]:
    """Raw ids -> training classes through the completion LUT; ids beyond the LUT are an error."""
    if raw.size and int(raw.max()) >= lut.size:
        bad = np.unique(raw[raw >= lut.size]).tolist()
        raise DataFormatError(
            source,
            f"raw label ids [{_listed(bad)}] are not in the label table",
            f"SemanticKITTI raw ids below {lut.size}",
        )
    return lut[raw]


def _frame_pairs(
    seq: SemanticKittiSequence, index: int, pred_file: Path, lut: NDArray[np.uint8]
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """(pred, gt) training classes of the evaluated voxels of one frame, both (N,)."""
    gt_file = seq.file("voxels", index, ".label")
    raw_gt = read_voxel_labels(gt_file, seq.grid.shape).ravel()
    invalid = read_voxel_bits(seq.file("voxels", index, ".invalid"), seq.grid.shape).ravel()
    raw_pred = read_voxel_labels(pred_file, seq.grid.shape).ravel()
    gt = _remap(raw_gt, lut, gt_file)
    pred = _remap(raw_pred, lut, pred_file)
    mask = (gt != IGNORE) & ~invalid
    pred_m = pred[mask]
    unmapped = pred_m == IGNORE
    if unmapped.any():
        bad = np.unique(raw_pred[mask][unmapped]).tolist()
        raise DataFormatError(
            pred_file,
            f"raw label ids [{_listed(bad)}] at evaluated voxels map to no class",
            "raw 0 (empty) or a raw id that learning_map sends to a class >= 1",
        )
    return pred_m.astype(np.intp), gt[mask].astype(np.intp)


def _gt_frames(
    dataset_root: Path_, sequences: Sequence[str | int], labels: SemanticKittiLabels
) -> list[tuple[SemanticKittiSequence, int]]:
    frames: list[tuple[SemanticKittiSequence, int]] = []
    for number in dict.fromkeys(int(s) for s in sequences):  # each sequence once, in order
        seq = SemanticKittiSequence(dataset_root, number, labels)
        if not seq.voxel_ids:
            raise DataFormatError(
                seq.path / "voxels",
                "no voxel ground truth (*.label) found",
                "sequences/XX/voxels/NNNNNN.label with .invalid",
            )
        frames.extend((seq, index) for index in seq.voxel_ids)
    return frames


def _check_predictions(predictions_root: Path_, files: Sequence[Path]) -> None:
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise DataFormatError(
            predictions_root,
            f"{len(missing)} of {len(files)} prediction files are missing: {_listed(missing)}",
            "one PRED/sequences/XX/predictions/NNNNNN.label per ground-truth frame",
        )


def evaluate_semantickitti(
    dataset_root: Path_,
    predictions_root: Path_,
    sequences: Sequence[str | int],
    labels: SemanticKittiLabels | None = None,
) -> SSCScores:
    """Evaluate SSC predictions against SemanticKITTI voxel ground truth, like the official script.

    Args:
        dataset_root: folder holding `sequences/XX/voxels/NNNNNN.{label,invalid}`.
        predictions_root: folder holding `sequences/XX/predictions/NNNNNN.label` (uint16 raw ids).
        sequences: sequence numbers to evaluate (e.g. [8] for the validation split).
        labels: label configuration (default: the official `semantic-kitti.yaml`).

    Returns:
        The scores over all frames of the given sequences.

    Raises:
        DataFormatError: missing ground truth or prediction files, files of the wrong size, or
            raw ids that the label table cannot map (naming the file and the ids).
    """
    if not sequences:
        raise DataFormatError(
            dataset_root, "no sequences to evaluate", "at least one sequence number"
        )
    config = labels or load_label_config()
    lut = config.learning_lut(completion=True).astype(np.uint8)
    frames = _gt_frames(dataset_root, sequences, config)
    pred_files = [prediction_path(predictions_root, seq.sequence, index) for seq, index in frames]
    _check_predictions(predictions_root, pred_files)
    confusion = SSCConfusion(config.class_names)
    for (seq, index), pred_file in zip(frames, pred_files, strict=True):
        confusion.add_pairs(*_frame_pairs(seq, index, pred_file, lut))
    return confusion.scores()
