"""Training parts: LiDAR evidence, block occupancy, semi-supervised targets, schedules, teacher,
config overrides."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from occle_core.errors import DataFormatError
from occle_core.geometry.grid import GridSpec
from occle_core.geometry.raytrace import FREE, OCCUPIED, UNKNOWN, dilate, lidar_evidence
from occle_core.train.batch import block_occupancy
from occle_core.train.config import load_train_config
from occle_core.train.objective import semi_supervised_targets
from occle_core.train.schedule import cosine_between, sigmoid_rampup, warmup_cosine
from occle_core.train.teacher import MeanTeacher


def test_lidar_evidence_marks_returns_occupied_and_the_beam_free():
    grid = GridSpec((0.0, 0.0, 0.0), (1.0, 1.0, 1.0), (10, 3, 3))
    origin = np.array([[0.5, 1.5, 1.5]])
    point = np.array([[8.5, 1.5, 1.5, 0.0]])
    evidence = lidar_evidence(point, origin, np.array([0]), grid)
    assert evidence[8, 1, 1] == OCCUPIED
    assert (evidence[0:7, 1, 1] == FREE).all()  # the beam up to one voxel before the return
    assert evidence[9, 1, 1] == UNKNOWN  # behind the return
    assert (evidence[:, 0, :] == UNKNOWN).all()
    # A second scan's return inside the first beam wins over its free space.
    both = lidar_evidence(
        np.array([[8.5, 1.5, 1.5, 0], [3.5, 1.5, 1.5, 0]]), origin, np.array([0, 0]), grid
    )
    assert both[3, 1, 1] == OCCUPIED
    # A sensor behind the grid: the beam is traced only where it crosses the box; a beam that
    # never enters the box marks nothing.
    behind = np.array([[-20.5, 1.5, 1.5]])
    evidence = lidar_evidence(point, behind, np.array([0]), grid)
    assert (evidence[0:7, 1, 1] == FREE).all() and evidence[8, 1, 1] == OCCUPIED
    away = lidar_evidence(np.array([[-30.0, 1.5, 1.5, 0]]), behind, np.array([0]), grid)
    assert (away == UNKNOWN).all()


def test_clearance_keeps_free_space_away_from_returns():
    """A beam grazing along a row next to a surface: with clearance (1, 1, 0) the voxels
    beside the returns stay unknown, those further away stay free."""
    grid = GridSpec((0.0, 0.0, 0.0), (1.0, 1.0, 1.0), (10, 4, 1))
    origin = np.array([[0.5, 1.5, 0.5], [0.5, 0.5, 0.5]])
    points = np.array([[9.5, 1.5, 0.5, 0.0], [4.5, 0.5, 0.5, 0.0]])  # beam along y=1; hit at y=0
    plain = lidar_evidence(points, origin, np.array([0, 1]), grid)
    clear = lidar_evidence(points, origin, np.array([0, 1]), grid, clearance=(1, 1, 0))
    assert (plain[0:8, 1, 0] == FREE).all()
    assert (clear[3:6, 1, 0] == UNKNOWN).all()  # next to the return at (4, 0)
    assert (clear[0:3, 1, 0] == FREE).all() and (clear[6:8, 1, 0] == FREE).all()
    assert clear[4, 0, 0] == OCCUPIED and clear[9, 1, 0] == OCCUPIED


def test_dilate_grows_per_axis():
    mask = np.zeros((5, 5, 3), bool)
    mask[2, 2, 1] = True
    grown = dilate(mask, (1, 2, 0))
    assert grown.sum() == 3 * 5 * 1
    assert grown[1:4, 0:5, 1].all() and not grown[:, :, 0].any()
    with pytest.raises(ValueError, match="radius"):
        dilate(mask, (-1, 0, 0))


def test_block_occupancy():
    labels = np.zeros((4, 4, 2), dtype=np.uint8)
    labels[0, 0, 0] = 9  # block (0, 0, 0) occupied
    labels[2:, :2, :] = 255  # block (1, 0, 0) unknown
    labels[2, 2, 0] = 255  # block (1, 1, 0) mixed empty/unknown: unknown
    occupancy = block_occupancy(labels, (2, 2, 2), empty=0)
    assert occupancy.shape == (2, 2, 1)
    assert occupancy[:, :, 0].tolist() == [[1, 0], [255, 255]]
    odd = block_occupancy(np.zeros((3, 3, 3), np.uint8), (2, 2, 2), 0)
    assert odd.shape == (2, 2, 2) and odd[0, 0, 0] == 0 and odd[1, 1, 1] == 255


def test_semi_supervised_targets_follow_teacher_then_lidar():
    teacher = torch.tensor([[[[4.0, -4.0, 0.0, 4.0, -4.0]]]]).reshape(1, 1, 5, 1, 1)
    evidence = torch.tensor([-1, -1, -1, 0, 1], dtype=torch.int8).reshape(1, 5, 1, 1)
    supervised = torch.full((1, 5, 1, 1), 255)
    target = semi_supervised_targets(teacher, evidence, supervised, 0.7, 0.3)
    assert target.flatten().tolist() == [1, 0, 255, 0, 1]
    supervised[0, 0] = 0
    target = semi_supervised_targets(None, evidence, supervised, 0.7, 0.3)
    assert target.flatten().tolist() == [255, 255, 255, 0, 1]


def test_schedules():
    assert warmup_cosine(0, 100, 10) == pytest.approx(0.1)
    assert warmup_cosine(9, 100, 10) == pytest.approx(1.0)
    assert warmup_cosine(10, 100, 10) == pytest.approx(1.0)
    assert warmup_cosine(55, 100, 10) == pytest.approx(0.5)
    assert warmup_cosine(100, 100, 10, min_ratio=0.1) == pytest.approx(0.1)
    assert sigmoid_rampup(0, 10) == pytest.approx(np.exp(-5))
    assert sigmoid_rampup(10, 10) == 1.0 and sigmoid_rampup(3, 0) == 1.0
    assert cosine_between(2.0, 0.5, 0, 100) == pytest.approx(2.0)
    assert cosine_between(2.0, 0.5, 50, 100) == pytest.approx(1.25)
    assert cosine_between(2.0, 0.5, 25, 100) == pytest.approx(
        0.5 + 1.5 * (0.5 + 0.5 * np.cos(np.pi / 4))
    )
    assert cosine_between(2.0, 0.5, 100, 100) == pytest.approx(0.5)
    assert cosine_between(2.0, 0.5, 140, 100) == pytest.approx(0.5)
    assert cosine_between(2.0, 0.5, 3, 0) == 0.5


def test_mean_teacher_averages_parameters():
    student = torch.nn.Linear(2, 1)
    teacher = MeanTeacher(student, decay=0.5)
    with torch.no_grad():
        before = teacher.model.weight.clone()
        student.weight.add_(1.0)
    teacher.update(student, step=1000)
    torch.testing.assert_close(teacher.model.weight, before + 0.5)
    assert not any(p.requires_grad for p in teacher.model.parameters())
    # Early steps use a smaller decay so the teacher leaves its initialisation quickly.
    teacher.update(student, step=0)
    torch.testing.assert_close(teacher.model.weight, before + 0.5 + 0.5 * 0.9)


def test_train_config_overrides(tmp_path):
    path = tmp_path / "train.yaml"
    path.write_text("model: occle_tiny\nbudget:\n  ratio: 0.2\n")
    config = load_train_config(path, ["budget.mode=voxels", "optim.lr=1e-3", "data.scans=1"])
    assert config.budget.mode == "voxels" and config.budget.ratio == 0.2
    assert config.optim.lr == 1e-3 and config.data.scans == 1
    with pytest.raises(DataFormatError, match=r"unknown key budget\.ratoi"):
        load_train_config(path, ["budget.ratoi=0.3"])
    with pytest.raises(DataFormatError, match="key=value"):
        load_train_config(path, ["budget.ratio"])
    with pytest.raises(DataFormatError, match=r"objective\.class_balance_limit.*>= 1"):
        load_train_config(path, ["objective.class_balance_limit=0.5"])


def test_shipped_training_config_resolves_by_name():
    config = load_train_config("occle_tiny_synthetic", ["data.root=/data"])
    assert config.model == "occle_tiny" and config.budget.ratio == 0.1
    assert config.data.train_sequences == ("00", "01", "02", "03")
    with pytest.raises(FileNotFoundError, match="occle_tiny_synthetic"):
        load_train_config("no_such_run")


def test_block_occupancy_bce_uses_the_most_occupied_voxel_of_each_block():
    from occle_core.train.objective import block_occupancy_bce

    logits = torch.zeros(1, 3, 4, 2, 2)  # classes: 0 empty, 1, 2
    logits[0, 0] = 10.0  # everything empty ...
    logits[0, 0, 0, 0, 0] = -10.0  # ... except one voxel of block (0, 0, 0)
    logits[0, 1, 0, 0, 0] = 10.0
    target = torch.tensor([1, 0]).reshape(1, 2, 1, 1)  # block 0 occupied, block 1 free
    good = block_occupancy_bce(logits, target, empty_label=0)
    assert good < 1e-3
    wrong = block_occupancy_bce(logits, 1 - target, empty_label=0)
    assert wrong > 5.0
    ignored = block_occupancy_bce(logits, torch.full_like(target, 255), empty_label=0)
    assert ignored == 0.0
