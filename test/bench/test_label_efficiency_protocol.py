"""The label-efficiency protocol's bookkeeping (benchmarks/label_efficiency.py and
label_ratio_curve.py): which sequences each split scores, the overrides of every run, the
statistics over training seeds and the issue's checks. Training itself is covered by
test/train; these runs take minutes each and are the benchmark's job."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from label_efficiency import Protocol, SeedResult, checks, summarise, validation_curve
from label_ratio_curve import curves, point_is_done, table


def _result(iou: float, miou: float, car: float, bicycle: float | None) -> SeedResult:
    return SeedResult(iou, miou, {"car": car, "bicycle": bicycle}, label_share=0.1)


def test_splits_keep_test_out_of_training_and_validation(tmp_path: Path):
    for layout, test_sequence in (("semantickitti", "05"), ("occ3d", "scene-0005")):
        val = Protocol(tmp_path, layout, split="val")
        test = Protocol(tmp_path, layout, split="test")
        assert test.scored_sequence == test_sequence != val.scored_sequence == val.val_sequence
        assert test_sequence not in val.train_sequences and len(val.train_sequences) == 4
        overrides = test.run_overrides("occle", 2)
        assert f"data.val_sequences={json.dumps([val.val_sequence])}" in overrides
        assert not any(test_sequence in o for o in overrides if not o.startswith("data.root="))


def test_runs_differ_only_in_budget_and_losses(tmp_path: Path):
    protocol = Protocol(tmp_path, ratio=0.05, budget_mode="voxels", overrides=("epochs=20",))
    full, occle, sparse = (protocol.run_overrides(run, 1) for run in ("full", "occle", "sparse"))
    assert "budget.mode=all" in full and not any("budget.ratio" in o for o in full)
    assert {"budget.mode=voxels", "budget.ratio=0.05", "seed=1", "budget.seed=1"} <= set(occle)
    assert set(sparse) - set(occle) == {
        "data.pseudo_labels=false",
        "objective.semi=0",
        "objective.sap=0",
        "objective.image=0",
        "objective.voxel=0",
        "objective.final_pseudo=0",
    }
    assert occle[-1] == "epochs=20"  # the protocol's overrides come last and win


def test_summary_is_mean_and_sample_spread_and_skips_absent_classes():
    summary = summarise({0: _result(80, 20, 40, None), 1: _result(84, 24, 50, 10)})
    assert summary["iou"]["mean"] == 82 and summary["miou"]["mean"] == 22
    assert summary["miou"]["std"] == pytest.approx(math.sqrt(8))  # n - 1 in the denominator
    assert summary["per_class"]["bicycle"] == {"mean": 10, "std": 0.0}


def test_checks_name_the_classes_occle_loses():
    full = summarise({0: _result(85, 30, 60, 12), 1: _result(85, 30, 60, 8)})
    occle = summarise({0: _result(86, 28, 55, 0), 1: _result(86, 28, 55, 0)})
    sparse = summarise({0: _result(84, 10, 30, 0), 1: _result(84, 10, 30, 0)})
    verdict = checks({"full": full, "occle": occle, "sparse": sparse})
    assert verdict["miou_share_of_full"] == pytest.approx(28 / 30)
    assert verdict["gap_recovered"] == pytest.approx(18 / 20)
    assert verdict["iou_minus_labels_alone"] == pytest.approx(2)
    assert verdict["classes_learned_by_full_left_at_0"] == ["bicycle"]
    assert verdict["passes"] is False
    occle["per_class"]["bicycle"] = {"mean": 3.0, "std": 0.0}
    assert checks({"full": full, "occle": occle, "sparse": sparse})["passes"] is True


def test_ratio_table_and_curves_mark_missing_points():
    run = summarise({0: _result(80, 20, 40, 1), 1: _result(82, 22, 44, 3)})
    points = {"frames-0.1": {"runs": {"occle": run, "sparse": run}}}
    text = table(points)
    assert "| 10 % of the frames | 10.0 % | 81.00 ± 1.41 | 21.00 ± 1.41 |" in text
    ratios, means, spreads = curves(points, "miou")
    assert ratios == [0.01, 0.05, 0.1, 0.2, 0.5, 1.0]
    assert means["OccLE"][2] == 21 and spreads["OccLE"][2] == pytest.approx(math.sqrt(2))
    assert all(math.isnan(v) for i, v in enumerate(means["labels alone"]) if i != 2)


def test_a_ratio_point_is_done_only_when_every_run_and_seed_is_scored(tmp_path: Path):
    protocol = Protocol(out=tmp_path, train_seeds=(0, 1), split="test")
    assert not point_is_done(protocol)
    for method in ("occle", "sparse"):
        for seed in (0, 1):
            folder = tmp_path / method / f"seed-{seed}"
            folder.mkdir(parents=True)
            (folder / "result_val.json").write_text("{}")  # the other split does not count
    assert not point_is_done(protocol)
    for method, seed in [("occle", 0), ("occle", 1), ("sparse", 0)]:
        (tmp_path / method / f"seed-{seed}" / "result_test.json").write_text("{}")
    assert not point_is_done(protocol)
    (tmp_path / "sparse" / "seed-1" / "result_test.json").write_text("{}")
    assert point_is_done(protocol)


def test_the_validation_curve_carries_the_chosen_prior_strength(tmp_path: Path):
    records = [
        {"step": 10, "total": 3.0},
        {"step": 20, "val_iou": 0.8, "val_miou": 0.25},  # a run without prior strengths
        {
            "step": 40,
            "val_iou": 0.85,
            "val_miou": 0.31,
            "val_prior_strength": 0.5,
            "val_miou_prior_0": 0.28,
            "val_miou_prior_0.5": 0.31,
        },
    ]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    assert validation_curve(tmp_path) == [
        {"step": 20, "iou": 80.0, "miou": 25.0},
        {"step": 40, "iou": 85.0, "miou": 31.0, "prior_strength": 0.5, "miou_plain": 28.0},
    ]


def test_mirrored_scores_are_kept_apart_and_score_only_never_trains(tmp_path: Path):
    from label_efficiency import train_and_score

    plain = Protocol(tmp_path, split="test")
    mirrored = Protocol(tmp_path, split="test", mirror_occupancy=True, score_only=True)
    assert (plain.scoring, mirrored.scoring) == ("test", "test_mirror")
    # A plain result on disk is not taken for the mirrored one ...
    run_dir = tmp_path / "occle" / "seed-0"
    run_dir.mkdir(parents=True)
    (run_dir / "result_test.json").write_text(json.dumps(_result(80, 20, 30, 1).__dict__))
    assert train_and_score(plain, "occle", 0).miou == 20
    # ... and scoring only, without a checkpoint, names what is missing instead of training.
    with pytest.raises(FileNotFoundError, match=r"seed-0/checkpoints/last\.pt"):
        train_and_score(mirrored, "occle", 0)
    assert not (run_dir / "train.log").exists()
