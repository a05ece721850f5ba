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


def _scored(protocol: Protocol, miou: float = 20.0) -> str:
    """A result file's text for the protocol's scored sequences."""
    result = _result(80, miou, 30, 1)
    result.sequences = protocol.scored_sequences
    return json.dumps(result.__dict__)


def test_splits_keep_test_out_of_training_and_validation(tmp_path: Path):
    for layout, test_sequences in (
        ("semantickitti", ["05", "06", "07"]),
        ("occ3d", ["scene-0005", "scene-0006", "scene-0007"]),
    ):
        val = Protocol(tmp_path, layout, split="val")
        test = Protocol(tmp_path, layout, split="test")
        assert val.scored_sequences == [val.val_sequence] and val.scored_dataset == val.dataset
        assert test.scored_sequences == test_sequences
        assert not set(test_sequences) & {*val.train_sequences, val.val_sequence}
        assert len(val.train_sequences) == 4
        # The test sequences live in their own dataset, next to the training one.
        assert test.scored_dataset == tmp_path / "synthetic_test" != test.dataset
        overrides = test.run_overrides("occle", 2)
        assert f"data.val_sequences={json.dumps([val.val_sequence])}" in overrides
        assert not any(
            sequence in o
            for sequence in test_sequences
            for o in overrides
            if not o.startswith("data.root=")
        )


def test_linked_protocol_folders_share_the_test_dataset(tmp_path: Path):
    (tmp_path / "k" / "synthetic").mkdir(parents=True)
    (tmp_path / "K4").mkdir()
    (tmp_path / "K4" / "synthetic").symlink_to(tmp_path / "k" / "synthetic")
    test = Protocol(tmp_path / "K4", split="test")
    assert test.scored_dataset == (tmp_path / "k" / "synthetic_test").resolve()


def test_an_interrupted_test_dataset_leaves_nothing_behind(tmp_path: Path, monkeypatch):
    import label_efficiency

    def interrupted(protocol: Protocol, out: Path, indices: range) -> None:
        (out / "sequences" / "05").mkdir(parents=True)
        raise RuntimeError("occle synth failed")

    protocol = Protocol(tmp_path, split="test")
    monkeypatch.setattr(label_efficiency, "_synth", interrupted)
    with pytest.raises(RuntimeError, match="synth failed"):
        label_efficiency.make_test_dataset(protocol)
    assert not protocol.test_dataset.exists()
    generated: list[range] = []

    def complete(protocol: Protocol, out: Path, indices: range) -> None:
        generated.append(indices)
        (out / "sequences").mkdir(parents=True)

    monkeypatch.setattr(label_efficiency, "_synth", complete)
    label_efficiency.make_test_dataset(protocol)
    label_efficiency.make_test_dataset(protocol)  # already there: not generated again
    assert generated == [range(5, 8)] and (protocol.test_dataset / "sequences").is_dir()
    assert [p.name for p in tmp_path.iterdir()] == ["synthetic_test"]


def test_a_result_of_other_sequences_is_scored_again(tmp_path: Path):
    from label_efficiency import cached_result

    run_dir = tmp_path / "occle" / "seed-0"
    run_dir.mkdir(parents=True)
    test = Protocol(tmp_path, split="test")
    single = _result(80, 20, 30, 1).__dict__  # written when the test split was sequence 05 alone
    (run_dir / "result_test.json").write_text(json.dumps(single))
    assert cached_result(test, run_dir) is None
    (run_dir / "result_val.json").write_text(json.dumps(single))
    assert cached_result(Protocol(tmp_path, split="val"), run_dir).miou == 20
    three = {**single, "sequences": ["05", "06", "07"]}
    (run_dir / "result_test.json").write_text(json.dumps(three))
    assert cached_result(test, run_dir).miou == 20


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
    assert summary["per_sequence"] == {}


def test_summary_of_each_test_sequence_alone():
    seeds = {}
    for seed, (first, second) in enumerate([(70.0, 80.0), (74.0, 82.0)]):
        result = _result(75, 20, 40, 1)
        result.per_sequence = {
            "05": {"iou": first, "miou": first / 4},
            "06": {"iou": second, "miou": second / 4},
        }
        seeds[seed] = result
    per_sequence = summarise(seeds)["per_sequence"]
    assert per_sequence["05"]["iou"] == {"mean": 72, "std": pytest.approx(math.sqrt(8))}
    assert per_sequence["06"]["miou"]["mean"] == pytest.approx(20.25)


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
            # the other split does not count
            (folder / "result_val.json").write_text(_scored(Protocol(tmp_path, split="val")))
    assert not point_is_done(protocol)
    for method, seed in [("occle", 0), ("occle", 1), ("sparse", 0)]:
        (tmp_path / method / f"seed-{seed}" / "result_test.json").write_text(_scored(protocol))
    assert not point_is_done(protocol)
    last = tmp_path / "sparse" / "seed-1" / "result_test.json"
    last.write_text(json.dumps(_result(80, 20, 30, 1).__dict__))  # sequence 05 alone: stale
    assert not point_is_done(protocol)
    last.write_text(_scored(protocol))
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
    (run_dir / "result_test.json").write_text(_scored(plain))
    assert train_and_score(plain, "occle", 0).miou == 20
    # ... and scoring only, without a checkpoint, names what is missing instead of training.
    with pytest.raises(FileNotFoundError, match=r"seed-0/checkpoints/last\.pt"):
        train_and_score(mirrored, "occle", 0)
    assert not (run_dir / "train.log").exists()
