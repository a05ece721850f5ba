"""Occ3D-nuScenes metrics: hand-computed cases, the file layout, and the real ground-truth file."""

from __future__ import annotations

import math
import warnings
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from occle_core.data.nuscenes.occ3d import (
    OCC3D_CLASS_NAMES,
    Occ3DLabels,
    occ3d_prediction_path,
    write_occ3d_labels,
    write_occ3d_prediction,
)
from occle_core.errors import DataFormatError
from occle_core.eval import Occ3DConfusion, evaluate_occ3d

SHAPE = (200, 200, 16)
FREE = 17
REAL_TOKEN = "29796060110c4163b07f06eff4af0753"


@pytest.fixture
def real_gts(real_data: Path) -> Path:
    """The real Occ3D `gts` folder (one sample of scene-1077); skips when it is not there.

    `real_data` (test/conftest.py) is $OCCLE_REAL_DATA or ../shared/data/real next to the repo.
    """
    gts = real_data / "occ3d_nuscenes" / "gts"
    if not (gts / "scene-1077" / REAL_TOKEN / "labels.npz").is_file():
        pytest.skip(f"real Occ3D ground truth not found under {gts}")
    return gts


def close(value: float, expected: Fraction) -> bool:
    return value == pytest.approx(float(expected), rel=1e-12)


# --- accumulator on in-memory classes -------------------------------------------------------------
def tiny_case() -> Occ3DConfusion:
    gt = np.array([0, 0, 1, 1, 1, 17, 17, 4, 255, 17])
    pred = np.array([0, 1, 1, 1, 17, 17, 0, 4, 3, 3])
    camera = np.array([True] * 7 + [False, True, True])  # class 4 lies outside the camera mask
    confusion = Occ3DConfusion()
    confusion.add(pred, gt, camera)
    return confusion


def test_tiny_grid_by_hand() -> None:
    scores = tiny_case().scores()
    # counted (gt, pred): (0,0) (0,1) (1,1) (1,1) (1,17) (17,17) (17,0) (17,3); gt 255 skipped
    assert close(scores.iou[0], Fraction(1, 2 + 2 - 1))  # gt row 2, pred column 2
    assert close(scores.iou[1], Fraction(2, 3 + 3 - 2))
    assert scores.iou[3] == 0.0  # predicted but absent from GT: counts as 0
    assert close(scores.iou[FREE], Fraction(1, 3 + 2 - 1))
    absent = [c for c in range(FREE) if c not in (0, 1, 3)]
    assert all(math.isnan(scores.iou[c]) for c in absent)  # incl. class 4 (masked out)
    # mean over classes 0..16 that are not NaN: 0, 1, 3 ("free" is not averaged)
    assert close(scores.miou, (Fraction(1, 3) + Fraction(1, 2) + 0) / 3)
    assert scores.num_frames == 1
    assert list(scores.class_iou()) == list(OCC3D_CLASS_NAMES[:FREE])


def test_confusion_orientation_rows_gt_columns_prediction() -> None:
    hist = tiny_case().confusion
    assert hist.dtype == np.float64
    assert hist[0, 1] == 1 and hist[1, 0] == 0  # gt 0 predicted as 1
    assert hist[FREE, 3] == 1
    assert hist.sum() == 8


def test_without_mask_every_voxel_counts() -> None:
    confusion = Occ3DConfusion()
    confusion.add(np.array([4, 4]), np.array([4, 17]))
    scores = confusion.scores()
    assert close(scores.iou[4], Fraction(1, 2))
    assert scores.iou[FREE] == 0.0
    assert close(scores.miou, Fraction(1, 2))


def test_nothing_counted_gives_nan_mean_without_warnings() -> None:
    confusion = Occ3DConfusion()
    confusion.add(np.zeros(3, dtype=np.uint8), np.zeros(3, dtype=np.uint8), np.zeros(3, dtype=bool))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scores = confusion.scores()
    assert math.isnan(scores.miou)


def test_bad_prediction_and_shapes() -> None:
    confusion = Occ3DConfusion()
    confusion.add(np.array([30]), np.array([255]))  # skipped GT: prediction not looked at
    with pytest.raises(ValueError, match=r"pred holds classes \[18\]"):
        confusion.add(np.array([18]), np.array([0]))
    with pytest.raises(ValueError, match="shapes"):
        confusion.add(np.zeros(2, dtype=int), np.zeros(2, dtype=int), np.zeros(3, dtype=bool))


def test_merge_and_reset() -> None:
    first, second = tiny_case(), tiny_case()
    first.merge(second)
    np.testing.assert_array_equal(first.confusion, 2 * second.confusion)
    assert first.scores().iou[:2] == second.scores().iou[:2]
    first.reset()
    assert first.num_frames == 0 and first.confusion.sum() == 0


# --- the file layout ------------------------------------------------------------------------------
def write_sample(
    gts: Path, scene: str, token: str, semantics: np.ndarray, camera: np.ndarray
) -> None:
    labels = Occ3DLabels(
        semantics=semantics.astype(np.uint8), mask_lidar=camera, mask_camera=camera
    )
    write_occ3d_labels(gts / scene / token / "labels.npz", labels)


def test_files_two_samples_by_hand(tmp_path: Path) -> None:
    gts, preds = tmp_path / "gts", tmp_path / "preds"
    semantics = np.full(SHAPE, FREE, dtype=np.uint8)
    semantics[0, 0, 0:6] = 4  # car: 6 voxels
    camera = np.zeros(SHAPE, dtype=bool)
    camera[0, 0, :] = True  # 16 voxels visible
    write_sample(gts, "scene-a", "tok1", semantics, camera)
    write_sample(gts, "scene-b", "tok2", semantics, camera)
    pred1 = np.full(SHAPE, FREE, dtype=np.uint8)
    pred1[0, 0, 0:3] = 4  # 3 of 6 cars
    pred1[1, 1, :] = 4  # outside the camera mask: not counted
    pred2 = semantics.copy()
    pred2[0, 0, 10:12] = 11  # free voxels predicted as driveable_surface
    write_occ3d_prediction(preds, "tok1", pred1)
    write_occ3d_prediction(preds, "tok2", pred2)
    scores = evaluate_occ3d(gts, preds)
    assert scores.num_frames == 2
    assert close(scores.iou[4], Fraction(3 + 6, 12 + 9 - 9))  # gt 12, predicted 9, tp 9
    assert scores.iou[11] == 0.0  # gt 0, predicted 2
    assert close(scores.iou[FREE], Fraction(10 + 8, 20 + 21 - 18))  # gt 20, predicted 21
    assert close(scores.miou, (Fraction(9, 12) + 0) / 2)


def test_missing_predictions_are_listed(tmp_path: Path) -> None:
    gts, preds = tmp_path / "gts", tmp_path / "preds"
    camera = np.ones(SHAPE, dtype=bool)
    for token in ("tok1", "tok2", "tok3"):
        write_sample(gts, "scene-a", token, np.full(SHAPE, FREE), camera)
    write_occ3d_prediction(preds, "tok2", np.full(SHAPE, FREE, dtype=np.uint8))
    with pytest.raises(DataFormatError) as error:
        evaluate_occ3d(gts, preds)
    message = str(error.value)
    assert "2 of 3 prediction files are missing" in message
    assert str(occ3d_prediction_path(preds, "tok1")) in message
    assert str(occ3d_prediction_path(preds, "tok3")) in message
    assert "tok2.npz" not in message


def test_bad_folders_and_bad_prediction_file(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="not found"):
        evaluate_occ3d(tmp_path / "absent", tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataFormatError, match="no ground-truth samples"):
        evaluate_occ3d(tmp_path / "empty", tmp_path)
    write_sample(
        tmp_path / "gts", "scene-a", "tok1", np.full(SHAPE, FREE), np.ones(SHAPE, dtype=bool)
    )
    with pytest.raises(DataFormatError, match="prediction folder not found"):
        evaluate_occ3d(tmp_path / "gts", tmp_path / "preds")
    bad = occ3d_prediction_path(tmp_path / "preds", "tok1")
    bad.parent.mkdir()
    np.savez(bad, arr_0=np.zeros((200, 200, 15), dtype=np.uint8))
    with pytest.raises(DataFormatError, match=r"tok1\.npz"):
        evaluate_occ3d(tmp_path / "gts", tmp_path / "preds")


# --- the real Occ3D-nuScenes ground truth ---------------------------------------------------------
def real_arrays(gts: Path) -> tuple[np.ndarray, np.ndarray]:
    with np.load(gts / "scene-1077" / REAL_TOKEN / "labels.npz") as archive:
        return archive["semantics"], archive["mask_camera"].astype(bool)


@pytest.mark.real_data
def test_real_ground_truth_against_itself_is_100(real_gts: Path, tmp_path: Path) -> None:
    semantics, camera = real_arrays(real_gts)
    prediction = semantics.copy()
    prediction[~camera] = 0  # anything outside the camera mask does not matter
    write_occ3d_prediction(tmp_path, REAL_TOKEN, prediction)
    scores = evaluate_occ3d(real_gts, tmp_path)
    present = set(np.unique(semantics[camera]).tolist())
    for c in range(FREE + 1):
        if c in present:
            assert scores.iou[c] == 1.0
        else:
            assert math.isnan(scores.iou[c])
    assert scores.miou == 1.0
    assert scores.num_frames == 1


@pytest.mark.real_data
def test_real_ground_truth_all_driveable_surface(real_gts: Path, tmp_path: Path) -> None:
    semantics, camera = real_arrays(real_gts)
    counts = np.bincount(semantics[camera], minlength=FREE + 1)
    visible = int(camera.sum())
    assert visible == 43355  # documented in shared/data/real/README.md
    write_occ3d_prediction(tmp_path, REAL_TOKEN, np.full(SHAPE, 11, dtype=np.uint8))
    scores = evaluate_occ3d(real_gts, tmp_path)
    # driveable_surface: tp = its GT count, union = every visible voxel (all predicted 11)
    assert close(scores.iou[11], Fraction(int(counts[11]), visible))
    present = [c for c in range(FREE) if counts[c] > 0]
    for c in range(FREE):
        if c == 11:
            continue
        if c in present:
            assert scores.iou[c] == 0.0
        else:
            assert math.isnan(scores.iou[c])
    assert scores.iou[FREE] == 0.0
    assert close(scores.miou, Fraction(int(counts[11]), visible) / len(present))
