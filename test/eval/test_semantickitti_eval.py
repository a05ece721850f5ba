"""SemanticKITTI SSC metrics: hand-computed cases, the official formulas, and the file layout."""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from occle_core.data.semantickitti.files import write_voxel_bits, write_voxel_labels
from occle_core.data.semantickitti.sequence import prediction_path, sequence_dir, write_prediction
from occle_core.errors import DataFormatError
from occle_core.eval import SSCConfusion, evaluate_semantickitti

SHAPE = (256, 256, 32)
N = 256 * 256 * 32
TINY = ("empty", "a", "b", "c")
EPS32 = float(np.finfo(np.float32).eps)


def close(value: float, expected: Fraction) -> bool:
    """Equal up to the 1e-15 / float32-eps terms the official formulas add to denominators."""
    return value == pytest.approx(float(expected), rel=1e-6, abs=1e-12)


# --- accumulator on in-memory training classes ----------------------------------------------------
def tiny_case() -> SSCConfusion:
    gt = np.array([0, 0, 1, 1, 1, 2, 2, 255, 0])
    pred = np.array([0, 1, 1, 1, 2, 2, 0, 3, 3])
    valid = np.array([True] * 8 + [False])  # the last voxel is ".invalid"
    confusion = SSCConfusion(TINY)
    confusion.add(pred, gt, valid)
    return confusion


def test_tiny_grid_per_class_iou_by_hand() -> None:
    scores = tiny_case().scores()
    # evaluated (pred, gt): (0,0) (1,0) (1,1) (1,1) (2,1) (2,2) (0,2); 255 and invalid skipped
    assert close(scores.iou[0], Fraction(1, 3))  # tp 1, fp 1 (0 for gt 2), fn 1 (1 for gt 0)
    assert close(scores.iou[1], Fraction(2, 4))  # tp 2, fp 1, fn 1
    assert close(scores.iou[2], Fraction(1, 3))  # tp 1, fp 1, fn 1
    assert scores.iou[3] == 0.0  # only predicted at ignored voxels: absent -> 0
    assert close(scores.miou, (Fraction(1, 2) + Fraction(1, 3) + 0) / 3)
    assert scores.num_frames == 1


def test_tiny_grid_completion_metrics_by_hand() -> None:
    scores = tiny_case().scores()
    # occupied in both: 4; predicted occupied: 5; occupied in GT: 5; union: 6
    assert scores.precision == 4 / (5 + EPS32)
    assert scores.recall == 4 / (5 + EPS32)
    assert scores.completion_iou == 4 / 6


def test_confusion_orientation_rows_gt_columns_prediction() -> None:
    confusion = tiny_case().confusion
    assert confusion.dtype == np.int64
    assert confusion[0, 1] == 1  # predicted a where GT is empty
    assert confusion[2, 0] == 1  # predicted empty where GT is b
    assert confusion.sum() == 7


def test_class_absent_from_gt_and_prediction_scores_zero_in_mean() -> None:
    confusion = SSCConfusion()  # official 20 classes
    gt = np.array([[0, 1], [1, 0]], dtype=np.uint8)
    confusion.add(gt.copy(), gt)
    scores = confusion.scores()
    assert len(scores.iou) == 20
    assert close(scores.iou[1], Fraction(1))
    assert all(v == 0.0 for v in scores.iou[2:])
    assert close(scores.miou, Fraction(1, 19))
    assert list(scores.class_iou())[:2] == ["car", "bicycle"]


def test_prediction_out_of_range_only_matters_at_evaluated_voxels() -> None:
    confusion = SSCConfusion(TINY)
    confusion.add(np.array([0, 200]), np.array([0, 255]))  # 200 sits on an ignored voxel
    with pytest.raises(ValueError, match="pred holds classes \\[7\\]"):
        confusion.add(np.array([0, 7]), np.array([0, 1]))
    with pytest.raises(ValueError, match="gt holds classes \\[9\\]"):
        confusion.add(np.array([0, 1]), np.array([0, 9]))
    with pytest.raises(ValueError, match="shapes"):
        confusion.add(np.zeros(3, dtype=int), np.zeros(4, dtype=int))


def test_merge_and_reset() -> None:
    first, second = tiny_case(), tiny_case()
    first.merge(second)
    assert first.num_frames == 2
    np.testing.assert_array_equal(first.confusion, 2 * second.confusion)
    first.reset()
    assert first.num_frames == 0 and first.confusion.sum() == 0


def official_restatement(frames: list[tuple[np.ndarray, np.ndarray]], n: int) -> dict[str, Any]:
    """evaluate_completion.py + np_ioueval.py, stated directly (np.add.at, rows = pred)."""
    conf = np.zeros((n, n), dtype=np.int64)
    for pred, target in frames:
        mask = target != 255
        np.add.at(conf, (pred[mask], target[mask]), 1)
    tp = np.diag(conf)
    fp = conf.sum(axis=1) - tp
    fn = conf.sum(axis=0) - tp
    iou = tp / (tp + fp + fn + 1e-15)
    eps = np.finfo(np.float32).eps
    return {
        "conf": conf,
        "iou": iou,
        "miou": iou[1:].mean(),
        "precision": np.sum(conf[1:, 1:]) / (np.sum(conf[1:, :]) + eps),
        "recall": np.sum(conf[1:, 1:]) / (np.sum(conf[:, 1:]) + eps),
        "completion": np.sum(conf[1:, 1:]) / (np.sum(conf) - conf[0, 0]),
    }


def test_matches_official_formulas_bit_for_bit_on_random_frames() -> None:
    rng = np.random.default_rng(7)
    frames = []
    for _ in range(4):
        gt = rng.integers(0, 20, size=50_000)
        gt[rng.random(gt.size) < 0.2] = 255
        gt[rng.random(gt.size) < 0.5] = 0
        pred = np.where(
            rng.random(gt.size) < 0.6, np.where(gt == 255, 0, gt), rng.integers(0, 20, gt.size)
        )
        frames.append((pred, gt))
    confusion = SSCConfusion()
    for pred, gt in frames:
        confusion.add(pred.astype(np.uint8), gt.astype(np.uint8))
    scores = confusion.scores()
    ref = official_restatement(frames, 20)
    # The official matrix has rows = prediction; ours is its transpose (rows = ground truth).
    np.testing.assert_array_equal(confusion.confusion, ref["conf"].T)
    assert scores.iou == tuple(float(v) for v in ref["iou"])
    assert scores.miou == ref["miou"]
    assert scores.precision == ref["precision"]
    assert scores.recall == ref["recall"]
    assert scores.completion_iou == ref["completion"]
    assert scores.num_frames == 4


# --- the official file layout ---------------------------------------------------------------------
def write_gt(root: Path, seq: str, index: int, raw: np.ndarray, invalid: np.ndarray) -> None:
    voxels = sequence_dir(root, seq) / "voxels"
    write_voxel_labels(voxels / f"{index:06d}.label", raw)
    write_voxel_bits(voxels / f"{index:06d}.invalid", invalid)


def scene(root: Path, pred_root: Path) -> None:
    """Frame 08/000000 with a known outcome, and an all-empty frame 09/000005."""
    raw = np.zeros(SHAPE, dtype=np.uint16)
    raw[0, 0, 0:10] = 10  # car (class 1): 10 voxels
    raw[1, 0, 0:5] = 40  # road (class 9): 5 voxels
    raw[2, 0, 0:4] = 1  # outlier -> ignored (255)
    raw[3, 0, 0:3] = 52  # other-structure -> ignored (255)
    raw[4, 0, :] = 10  # car, but invalid
    invalid = np.zeros(SHAPE, dtype=bool)
    invalid[4, 0, :] = True
    write_gt(root, "08", 0, raw, invalid)
    pred = np.zeros(SHAPE, dtype=np.uint8)
    pred[0, 0, 0:8] = 1  # 8 of 10 cars found, 2 predicted empty
    pred[1, 0, 0:5] = 9  # the road
    pred[5, 0, 0:5] = 9  # 5 road voxels where the GT is empty
    pred[2, 0, 0:4] = 13  # on ignored voxels: not counted
    pred[4, 0, :] = 13  # on invalid voxels: not counted
    write_prediction(pred_root, "08", 0, pred)
    write_gt(root, "09", 5, np.zeros(SHAPE, dtype=np.uint16), np.zeros(SHAPE, dtype=bool))
    write_prediction(pred_root, "09", 5, np.zeros(SHAPE, dtype=np.uint8))


@pytest.fixture(scope="module")
def kitti(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("kitti")
    scene(root / "data", root / "pred")
    return root / "data", root / "pred"


def test_files_end_to_end_by_hand(kitti: tuple[Path, Path]) -> None:
    data, pred = kitti
    scores = evaluate_semantickitti(data, pred, ["08", 9])
    names = scores.class_names
    assert close(scores.iou[names.index("car")], Fraction(8, 10))
    assert close(scores.iou[names.index("road")], Fraction(5, 10))  # 5 tp, 5 fp
    assert scores.iou[names.index("building")] == 0.0  # only predicted on ignored voxels
    assert close(scores.miou, (Fraction(8, 10) + Fraction(5, 10)) / 19)
    # ignored: 4 outlier + 3 other-structure + 32 invalid; empty/empty: all other empty GT voxels
    evaluated = 2 * N - 39
    empty_tp = evaluated - 10 - 5 - 5  # minus car GT, road GT, road predicted on empty GT
    assert scores.confusion[0, 0] == empty_tp
    assert scores.confusion.sum() == evaluated
    assert close(scores.iou[0], Fraction(empty_tp, empty_tp + 2 + 5))
    assert close(scores.precision, Fraction(13, 18))
    assert close(scores.recall, Fraction(13, 15))
    assert scores.completion_iou == 13 / 20
    assert scores.num_frames == 2


def test_only_requested_sequences_are_read(kitti: tuple[Path, Path]) -> None:
    scores = evaluate_semantickitti(kitti[0], kitti[1], [9])
    assert scores.num_frames == 1
    assert scores.confusion[0, 0] == N
    assert scores.miou == 0.0


def test_missing_prediction_files_are_listed(tmp_path: Path, kitti: tuple[Path, Path]) -> None:
    with pytest.raises(DataFormatError) as error:
        evaluate_semantickitti(kitti[0], tmp_path / "nothing", ["08", "09"])
    message = str(error.value)
    assert "2 of 2 prediction files are missing" in message
    assert str(prediction_path(tmp_path / "nothing", 8, 0)) in message
    assert str(prediction_path(tmp_path / "nothing", 9, 5)) in message


def one_frame(tmp_path: Path, pred_raw: np.ndarray, gt_raw: np.ndarray | None = None) -> Path:
    raw = np.zeros(SHAPE, dtype=np.uint16) if gt_raw is None else gt_raw
    invalid = np.zeros(SHAPE, dtype=bool)
    invalid[10, 10, :] = True
    write_gt(tmp_path / "data", "08", 0, raw, invalid)
    path = prediction_path(tmp_path / "pred", 8, 0)
    write_voxel_labels(path, pred_raw)
    return path


@pytest.mark.parametrize("raw_id", [1, 52, 99, 5])  # map to "unlabeled" (0 -> 255), or unlisted
def test_prediction_id_that_maps_to_no_class_is_an_error(tmp_path: Path, raw_id: int) -> None:
    pred = np.zeros(SHAPE, dtype=np.uint16)
    pred[3, 3, 3] = raw_id
    path = one_frame(tmp_path, pred)
    with pytest.raises(
        DataFormatError, match=f"raw label ids \\[{raw_id}\\].*map to no class"
    ) as error:
        evaluate_semantickitti(tmp_path / "data", tmp_path / "pred", [8])
    assert error.value.source == str(path)


def test_unmapped_prediction_on_ignored_voxel_is_accepted(tmp_path: Path) -> None:
    pred = np.zeros(SHAPE, dtype=np.uint16)
    pred[10, 10, :] = 1  # on invalid voxels, like the official script (remap, then mask)
    gt = np.zeros(SHAPE, dtype=np.uint16)
    gt[20, 20, 0] = 52  # ignored GT voxel
    pred[20, 20, 0] = 99
    one_frame(tmp_path, pred, gt)
    scores = evaluate_semantickitti(tmp_path / "data", tmp_path / "pred", [8])
    assert scores.confusion[0, 0] == N - 32 - 1


def test_id_outside_label_table_is_an_error_even_on_ignored_voxels(tmp_path: Path) -> None:
    pred = np.zeros(SHAPE, dtype=np.uint16)
    pred[10, 10, 0] = 60000  # invalid voxel, but the official LUT lookup would fail
    path = one_frame(tmp_path, pred)
    with pytest.raises(DataFormatError, match="\\[60000\\] are not in the label table") as error:
        evaluate_semantickitti(tmp_path / "data", tmp_path / "pred", [8])
    assert error.value.source == str(path)


def test_ground_truth_id_outside_label_table_names_the_gt_file(tmp_path: Path) -> None:
    gt = np.zeros(SHAPE, dtype=np.uint16)
    gt[0, 0, 0] = 4000
    one_frame(tmp_path, np.zeros(SHAPE, dtype=np.uint16), gt)
    with pytest.raises(DataFormatError, match=re.escape("000000.label: raw label ids [4000]")):
        evaluate_semantickitti(tmp_path / "data", tmp_path / "pred", [8])


def test_wrong_size_prediction_and_missing_invalid_file(tmp_path: Path) -> None:
    path = one_frame(tmp_path, np.zeros(SHAPE, dtype=np.uint16))
    write_voxel_labels(path, np.zeros(100, dtype=np.uint16))
    with pytest.raises(DataFormatError, match=re.escape("predictions/000000.label")):
        evaluate_semantickitti(tmp_path / "data", tmp_path / "pred", [8])
    (sequence_dir(tmp_path / "data", 8) / "voxels" / "000000.invalid").unlink()
    with pytest.raises(DataFormatError, match=re.escape("000000.invalid")):
        evaluate_semantickitti(tmp_path / "data", tmp_path / "pred", [8])


def test_missing_sequence_or_ground_truth(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="sequence folder not found"):
        evaluate_semantickitti(tmp_path, tmp_path, [8])
    (sequence_dir(tmp_path, 8) / "voxels").mkdir(parents=True)
    with pytest.raises(DataFormatError, match="no voxel ground truth"):
        evaluate_semantickitti(tmp_path, tmp_path, [8])
    with pytest.raises(DataFormatError, match="no sequences"):
        evaluate_semantickitti(tmp_path, tmp_path, [])
