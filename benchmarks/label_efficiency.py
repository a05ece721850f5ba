"""Label-efficiency protocol on synthetic scenes: how close does OccLE with 10 % of the voxel
labels come to training with all of them, on sequences nobody tuned on?

Runs, all from the rig's training configuration (`config/train/occle_tiny_synthetic.yaml`, or
`occle_occ3d_tiny_synthetic.yaml` with `--layout occ3d`), on the same dataset:

  (a) full:   100 % of the voxel labels, every OccLE loss;
  (b) occle:  `--ratio` (10 %) of the voxel labels (`--budget-mode`, default frames) + pseudo
      labels + mean teacher + SAP;
  (c) sparse: the same labels alone: no pseudo labels, no semi-supervision, no SAP (and so none
      of the pseudo-label losses).

The split (eight synthetic sequences of one world, `--seed`): sequences 0-3 train, sequence 4
validates (the trainer's own validation, and every choice of weights and schedules is made on
it), sequences 5, 6 and 7 are the test split, scored only with `--split test` (pooled, as the
official metric pools frames, and each on its own). The test sequences are generated only when
they are first scored, into a dataset of their own next to the training one (DATASET_test: no
pseudo labels, nothing of them in any training folder; folders that link one dataset share
them). Every run is trained once per
training seed (`--train-seeds`, default 0 1 2: model initialisation, sampling and which frames
the budget labels), predicted with `occle infer` and scored with the official metric (`occle
eval semantickitti`, or `occle eval occ3d` inside `mask_camera`, where IoU is occupied-vs-free
inside the mask) on the split asked for. The script prints the mean and spread over the seeds
and the issue-19 checks, and writes OUT/label_efficiency_<split>.json: the protocol (layout,
world seed, sequences, overrides, threads), and per run and seed the IoU, mIoU, per-class IoU,
label share, validation curve and minutes, plus their means and standard deviations.

    python benchmarks/label_efficiency.py --out results/label_efficiency [--split val|test]
        [--layout occ3d] [--seed 0] [--train-seeds 0 1 2] [--jobs 2] [--set KEY=VALUE ...]
        [--mirror-occupancy] [--score-only]

It generates the dataset (the 5 training and validation sequences, tiny, 50 frames each) and
their pseudo labels into OUT/synthetic first unless it exists. Runs already trained are resumed
(finished ones only re-scored), and a finished run's scores are kept in RUN/result_<split>.json
(with the sequences they score), so an interrupted protocol loses only the run in progress.
`--mirror-occupancy` scores the same checkpoints with the occupancy decided from each frame
and its y-mirror (`occle infer --mirror-occupancy`). `--jobs 2` trains two runs side by side
with one thread each: on a 2-core CPU that is 1.4x the throughput of one run with two threads
(benchmarks/train_step.py).

`--runs occle --set objective.sap=0` (any `occle train` override, applied to every run) is how
ablations are run; give each its own OUT, with OUT/synthetic a link to an existing dataset.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from occle_core.cli.main import main as occle
from occle_core.io.atomic import atomic_write_bytes

LABELS_ALONE = [
    "data.pseudo_labels=false",
    "objective.semi=0",
    "objective.sap=0",
    "objective.image=0",
    "objective.voxel=0",
    "objective.final_pseudo=0",
]
RUNS = ("full", "occle", "sparse")
CONFIGS = Path(__file__).resolve().parents[1] / "config" / "train"
TRAIN_CONFIG = {
    "semantickitti": CONFIGS / "occle_tiny_synthetic.yaml",
    "occ3d": CONFIGS / "occle_occ3d_tiny_synthetic.yaml",
}
SEQUENCES = {
    "semantickitti": [f"{i:02d}" for i in range(8)],
    "occ3d": [f"scene-{i:04d}" for i in range(8)],
}
TRAIN_SLICE, VAL_INDEX, TEST_SLICE = slice(0, 4), 4, slice(5, 8)
# What the issue asks of OccLE on the test split.
TARGET_MIOU_SHARE = 0.9  # of the all-labels mIoU
LEARNED_CLASS_IOU = 5.0  # % IoU from which a class counts as learned by the all-labels run


@dataclass(frozen=True)
class Protocol:
    """One label-efficiency experiment.

    Attributes:
        out: its folder (dataset in OUT/synthetic, runs in OUT/<run>/seed-<s>).
        layout: "semantickitti" (KITTI-like rig) or "occ3d" (surround rig).
        world_seed: seed of the synthetic world (`occle synth --seed`).
        train_seeds: training seeds; each run is trained once per seed.
        split: "val" or "test": the sequences that are scored.
        ratio: share of the labels for (b) and (c).
        budget_mode: "frames" or "voxels" for (b) and (c).
        overrides: `occle train` overrides applied to every run, after the run's own.
        threads: torch threads per training process.
        mirror_occupancy: score with `occle infer --mirror-occupancy` (occupancy decided from
            each frame and its y-mirror); its scores are kept apart (RUN/result_<split>_mirror.json,
            OUT/label_efficiency_<split>_mirror.json).
        score_only: never train: score each run's existing RUN/checkpoints/last.pt (a run
            linked in from another protocol folder, whose recorded data.root a resume would
            refuse); a run without one is an error.
    """

    out: Path
    layout: str = "semantickitti"
    world_seed: int = 0
    train_seeds: tuple[int, ...] = (0, 1, 2)
    split: str = "val"
    ratio: float = 0.1
    budget_mode: str = "frames"
    overrides: tuple[str, ...] = ()
    threads: int = 2
    mirror_occupancy: bool = False
    score_only: bool = False

    @property
    def scoring(self) -> str:
        """The name of the scored split and decision: "val", "test", "val_mirror", ..."""
        return f"{self.split}_mirror" if self.mirror_occupancy else self.split

    @property
    def dataset(self) -> Path:
        return self.out / "synthetic"

    @property
    def test_dataset(self) -> Path:
        """Where the test sequences live: next to the (resolved) training dataset."""
        resolved = self.dataset.resolve()
        return resolved.with_name(resolved.name + "_test")

    @property
    def train_sequences(self) -> list[str]:
        return SEQUENCES[self.layout][TRAIN_SLICE]

    @property
    def val_sequence(self) -> str:
        return SEQUENCES[self.layout][VAL_INDEX]

    @property
    def test_sequences(self) -> list[str]:
        return SEQUENCES[self.layout][TEST_SLICE]

    @property
    def scored_sequences(self) -> list[str]:
        return [self.val_sequence] if self.split == "val" else self.test_sequences

    @property
    def scored_dataset(self) -> Path:
        return self.dataset if self.split == "val" else self.test_dataset

    def run_overrides(self, run: str, seed: int) -> list[str]:
        """The `occle train` overrides of run `run` with training seed `seed`."""
        budget = ["budget.mode=all"] if run == "full" else [f"budget.mode={self.budget_mode}"]
        if run != "full":
            budget.append(f"budget.ratio={self.ratio}")
        return [
            f"data.root={self.dataset}",
            f"data.train_sequences={json.dumps(self.train_sequences)}",
            f"data.val_sequences={json.dumps([self.val_sequence])}",
            f"seed={seed}",
            f"budget.seed={seed}",
            f"threads={self.threads}",
            *budget,
            *(LABELS_ALONE if run == "sparse" else []),
            *self.overrides,
        ]


@dataclass
class SeedResult:
    """One trained run scored on the protocol's split (percent)."""

    iou: float
    miou: float
    per_class: dict[str, float | None]
    label_share: float
    validation: list[dict[str, float]] = field(default_factory=list)
    minutes: float = 0.0
    sequences: list[str] = field(default_factory=list)
    per_sequence: dict[str, dict[str, float]] = field(default_factory=dict)


def _synth(protocol: Protocol, out: Path, indices: range) -> None:
    """`occle synth` of the sequences `indices` (50 frames each) of the protocol's world; a
    sequence depends only on (world seed, its number), so a sequence is the same in any
    dataset that holds it."""
    synth = ["synth", "--out", str(out), "--sequences", *map(str, indices), "--frames", "50"]
    synth += ["--seed", str(protocol.world_seed), "--no-preview", "--layout", protocol.layout]
    if occle(synth) != 0:
        raise RuntimeError(f"occle {' '.join(synth)} failed")


def make_dataset(protocol: Protocol) -> None:
    """The training and validation sequences of the world `protocol.world_seed`, and their
    pseudo labels."""
    sequences = [*protocol.train_sequences, protocol.val_sequence]
    _synth(protocol, protocol.dataset, range(len(sequences)))
    pseudo = ["pseudo-label", "--dataset", str(protocol.dataset), "--layout", protocol.layout]
    names = sequences if protocol.layout == "occ3d" else [str(int(s)) for s in sequences]
    pseudo += ["--sequences", *names]
    if protocol.layout == "occ3d":
        pseudo += ["--sweeps", "4"]
    if occle(pseudo) != 0:
        raise RuntimeError(f"occle {' '.join(pseudo)} failed")


def make_test_dataset(protocol: Protocol) -> None:
    """The test sequences, alone in `protocol.test_dataset` (no pseudo labels), written into a
    temporary folder first so that an interrupted generation leaves nothing behind."""
    target = protocol.test_dataset
    if target.exists():
        return
    partial = target.with_name(f"{target.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    _synth(protocol, partial, range(TEST_SLICE.start, TEST_SLICE.stop))
    try:
        partial.rename(target)
    except OSError:  # another protocol generated it meanwhile: the same sequences
        shutil.rmtree(partial, ignore_errors=True)
        if not target.exists():
            raise


def _occle_process(args: list[str], log: Path) -> None:
    """`occle ARGS` in its own process (runs train side by side), output into `log`."""
    command = [sys.executable, "-m", "occle_core.cli.main", *args]
    with log.open("a") as stream:
        done = subprocess.run(command, stdout=stream, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}); see {log}")


def _evaluate(protocol: Protocol, predictions: Path, sequences: list[str], report: Path) -> Any:
    """`occle eval` (the official metric) of `sequences` of the scored dataset, pooled."""
    dataset = protocol.scored_dataset
    if protocol.layout == "occ3d":
        evaluate = ["eval", "occ3d", "--gts", str(dataset / "gts"), "--scenes", *sequences]
    else:
        evaluate = ["eval", "semantickitti", "--dataset", str(dataset), "--sequences", *sequences]
    evaluate += ["--predictions", str(predictions), "--json", str(report)]
    _occle_process(evaluate, report.parent / "protocol.log")
    return json.loads(report.read_text())


def score(protocol: Protocol, run_dir: Path) -> tuple[dict[str, Any], dict[str, dict[str, float]]]:
    """Predict the scored sequences with RUN/checkpoints/last.pt and score them with the
    official metric: pooled over the sequences, and each on its own (IoU and mIoU %)."""
    scoring, sequences = protocol.scoring, protocol.scored_sequences
    dataset = protocol.scored_dataset
    predictions, report = run_dir / f"predictions_{scoring}", run_dir / f"eval_{scoring}.json"
    infer = ["infer", "--checkpoint", str(run_dir / "checkpoints" / "last.pt")]
    if protocol.mirror_occupancy:
        infer.append("--mirror-occupancy")
    infer += ["--dataset", str(dataset), "--sequences", *sequences, "--out", str(predictions)]
    if protocol.layout == "occ3d":
        infer += ["--layout", "occ3d", "--sweeps", "4"]
    _occle_process(infer, run_dir / "protocol.log")
    pooled = _evaluate(protocol, predictions, sequences, report)
    per_sequence = {}
    if len(sequences) > 1:
        for sequence in sequences:
            report_alone = report.with_suffix(f".{sequence}.json")
            alone = _evaluate(protocol, predictions, [sequence], report_alone)
            per_sequence[sequence] = {"iou": _iou(alone), "miou": alone["miou"]}
    return pooled, per_sequence


def _iou(scores: dict[str, Any]) -> float:
    """The completion IoU of an `occle eval` report (Occ3D calls it iou_geometry)."""
    return float(scores["iou"] if "iou" in scores else scores["iou_geometry"])


def cached_result(protocol: Protocol, run_dir: Path) -> SeedResult | None:
    """RUN/result_<scoring>.json when it scores the protocol's sequences (a result written
    before the test split had three sequences is stale), else None."""
    result_file = run_dir / f"result_{protocol.scoring}.json"
    if not result_file.exists():
        return None
    result = SeedResult(**json.loads(result_file.read_text()))
    # Results from before `sequences` was recorded scored one sequence: 04 or 05.
    legacy = SEQUENCES[protocol.layout][VAL_INDEX if protocol.split == "val" else TEST_SLICE.start]
    scored = result.sequences or [legacy]
    return result if scored == protocol.scored_sequences else None


def validation_curve(run_dir: Path) -> list[dict[str, float]]:
    """The trainer's validation records (step, val IoU %, val mIoU %, and where the run chose
    a class-prior strength, that strength and the mIoU % of the plain argmax) from
    RUN/metrics.jsonl."""
    curve = []
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        if "val_miou" in record:
            iou, miou = 100 * record["val_iou"], 100 * record["val_miou"]
            point = {"step": record["step"], "iou": round(iou, 2), "miou": round(miou, 2)}
            if "val_prior_strength" in record:
                point["prior_strength"] = record["val_prior_strength"]
            if "val_miou_prior_0" in record:
                point["miou_plain"] = round(100 * record["val_miou_prior_0"], 2)
            curve.append(point)
    return curve


def train_and_score(protocol: Protocol, run: str, seed: int) -> SeedResult:
    """Train (or resume) run `run` with training seed `seed` and score it; cached per split."""
    run_dir = protocol.out / run / f"seed-{seed}"
    result_file = run_dir / f"result_{protocol.scoring}.json"
    cached = cached_result(protocol, run_dir)
    if cached is not None:
        return cached
    started = time.perf_counter()
    if protocol.score_only:
        if not (run_dir / "checkpoints" / "last.pt").is_file():
            raise FileNotFoundError(f"--score-only: {run_dir}/checkpoints/last.pt does not exist")
    else:
        run_dir.mkdir(parents=True, exist_ok=True)
        train = ["train", "--config", str(TRAIN_CONFIG[protocol.layout]), "--run", str(run_dir)]
        overrides = protocol.run_overrides(run, seed)
        _occle_process([*train, "--resume", *overrides], run_dir / "train.log")
    scores, per_sequence = score(protocol, run_dir)
    manifest = json.loads((run_dir / "label_budget.json").read_text())
    result = SeedResult(
        iou=_iou(scores),
        miou=scores["miou"],
        per_class=scores["per_class"],
        label_share=manifest["voxels"]["kept_share"],
        validation=validation_curve(run_dir),
        minutes=round((time.perf_counter() - started) / 60, 1),
        sequences=protocol.scored_sequences,
        per_sequence=per_sequence,
    )
    atomic_write_bytes(result_file, (json.dumps(result.__dict__, indent=2) + "\n").encode())
    return result


def _spread(values: list[float]) -> dict[str, float]:
    return {
        "mean": statistics.fmean(values),
        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
    }


def summarise(seeds: dict[int, SeedResult]) -> dict[str, Any]:
    """Mean and standard deviation over the seeds of IoU, mIoU and every class's IoU, and of
    IoU and mIoU on each scored sequence alone (when several are scored)."""
    results = list(seeds.values())
    classes = results[0].per_class
    per_class = {}
    for name in classes:
        values = [r.per_class[name] for r in results]
        present = [v for v in values if v is not None]
        per_class[name] = _spread(present) if present else None
    per_sequence = {
        sequence: {
            metric: _spread([r.per_sequence[sequence][metric] for r in results])
            for metric in ("iou", "miou")
        }
        for sequence in results[0].per_sequence
    }
    return {
        "iou": _spread([r.iou for r in results]),
        "miou": _spread([r.miou for r in results]),
        "label_share": statistics.fmean(r.label_share for r in results),
        "per_class": per_class,
        "per_sequence": per_sequence,
    }


def checks(summary: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The issue's criteria for (b) against (a) and (c), on means over the seeds."""
    full, occle_, sparse = (summary[name] for name in RUNS)
    miou_share = occle_["miou"]["mean"] / full["miou"]["mean"]
    gap = full["miou"]["mean"] - sparse["miou"]["mean"]
    learned_lost = [
        name
        for name, spread in full["per_class"].items()
        if spread is not None
        and spread["mean"] > LEARNED_CLASS_IOU
        and (occle_["per_class"][name] or {"mean": 0.0})["mean"] < 0.1
    ]
    return {
        "miou_share_of_full": miou_share,
        "gap_recovered": (occle_["miou"]["mean"] - sparse["miou"]["mean"]) / gap if gap else None,
        "iou_minus_labels_alone": occle_["iou"]["mean"] - sparse["iou"]["mean"],
        "classes_learned_by_full_left_at_0": learned_lost,
        "passes": miou_share >= TARGET_MIOU_SHARE
        and occle_["iou"]["mean"] >= sparse["iou"]["mean"]
        and not learned_lost,
    }


def run_protocol(protocol: Protocol, runs: tuple[str, ...], jobs: int) -> dict[str, Any]:
    """Train and score every (run, seed); the JSON document of the protocol."""
    if not protocol.dataset.exists():
        make_dataset(protocol)
    if protocol.split == "test":
        make_test_dataset(protocol)
    work = [(run, seed) for run in runs for seed in protocol.train_seeds]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        done = list(pool.map(lambda job: train_and_score(protocol, *job), work))
    per_run: dict[str, dict[int, SeedResult]] = {}
    for (run, seed), result in zip(work, done, strict=True):
        per_run.setdefault(run, {})[seed] = result
    summary = {run: summarise(seeds) for run, seeds in per_run.items()}
    document: dict[str, Any] = {
        "protocol": {
            "layout": protocol.layout,
            "world_seed": protocol.world_seed,
            "train_seeds": list(protocol.train_seeds),
            "split": protocol.split,
            "train_sequences": protocol.train_sequences,
            "validation_sequence": protocol.val_sequence,
            "scored_sequences": protocol.scored_sequences,
            "scored_dataset": str(protocol.scored_dataset),
            "ratio": protocol.ratio,
            "budget_mode": protocol.budget_mode,
            "config": str(TRAIN_CONFIG[protocol.layout].name),
            "overrides": list(protocol.overrides),
            "threads": protocol.threads,
            "mirror_occupancy": protocol.mirror_occupancy,
            "score_only": protocol.score_only,
        },
        "runs": {
            run: {"seeds": {str(s): r.__dict__ for s, r in seeds.items()}, **summary[run]}
            for run, seeds in per_run.items()
        },
    }
    if set(RUNS) <= set(summary):
        document["checks"] = checks(summary)
    return document


def print_report(document: dict[str, Any]) -> None:
    protocol = document["protocol"]
    print(
        f"{protocol['layout']}, world seed {protocol['world_seed']}, {protocol['split']} split "
        f"(sequences {', '.join(protocol['scored_sequences'])}), "
        f"training seeds {protocol['train_seeds']}"
        + (", occupancy from each frame and its mirror" if protocol.get("mirror_occupancy") else "")
    )
    print(f"{'run':<8} {'labels':>7} {'IoU %':>14} {'mIoU %':>14} {'minutes':>8}")
    for name, run in document["runs"].items():
        minutes = sum(s["minutes"] for s in run["seeds"].values())
        iou, miou = run["iou"], run["miou"]
        print(
            f"{name:<8} {100 * run['label_share']:6.1f}% {iou['mean']:7.2f} ± {iou['std']:4.2f} "
            f"{miou['mean']:7.2f} ± {miou['std']:4.2f} {minutes:8.1f}"
        )
        for sequence, alone in run.get("per_sequence", {}).items():
            iou, miou = alone["iou"], alone["miou"]
            print(
                f"  {sequence:<14} {iou['mean']:7.2f} ± {iou['std']:4.2f} "
                f"{miou['mean']:7.2f} ± {miou['std']:4.2f}"
            )
    if "checks" in document:
        c = document["checks"]
        print(
            f"OccLE: {100 * c['miou_share_of_full']:.0f} % of the all-labels mIoU (target "
            f"{100 * TARGET_MIOU_SHARE:.0f} %), {100 * (c['gap_recovered'] or math.nan):.0f} % of "
            f"the gap, IoU {c['iou_minus_labels_alone']:+.2f} vs labels alone; classes the "
            f"all-labels run learns but OccLE leaves at 0: "
            f"{', '.join(c['classes_learned_by_full_left_at_0']) or 'none'}"
        )


def add_protocol_arguments(parser: argparse.ArgumentParser, out: str) -> None:
    """The options every protocol script shares (world, seeds, split, jobs, overrides)."""
    parser.add_argument("--out", type=Path, default=Path(out))
    parser.add_argument("--layout", choices=list(TRAIN_CONFIG), default="semantickitti")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic world")
    parser.add_argument("--train-seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--split", choices=["val", "test"], default="val")
    parser.add_argument("--jobs", type=int, default=1, help="runs trained side by side")
    parser.add_argument(
        "--set",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="training-config overrides for every run, after the run's own "
        "(e.g. objective.final_pseudo_end=0)",
    )
    parser.add_argument(
        "--mirror-occupancy",
        action="store_true",
        help="score every run with `occle infer --mirror-occupancy` (kept apart from the plain "
        "scores; runs are trained the same way either way)",
    )
    parser.add_argument(
        "--score-only",
        action="store_true",
        help="do not train or resume: score the runs' existing checkpoints (runs linked in "
        "from another protocol folder)",
    )


def protocol_from_arguments(
    args: argparse.Namespace, out: Path, ratio: float, budget_mode: str
) -> Protocol:
    """The protocol the shared options describe, in `out`; the cores split over the jobs."""
    return Protocol(
        out=out,
        layout=args.layout,
        world_seed=args.seed,
        train_seeds=tuple(args.train_seeds),
        split=args.split,
        ratio=ratio,
        budget_mode=budget_mode,
        overrides=tuple(args.set),
        threads=max(1, (os.cpu_count() or 1) // args.jobs),
        mirror_occupancy=args.mirror_occupancy,
        score_only=args.score_only,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_protocol_arguments(parser, "results/label_efficiency")
    parser.add_argument("--runs", nargs="+", choices=RUNS, default=list(RUNS))
    parser.add_argument("--ratio", type=float, default=0.1, help="label share of (b) and (c)")
    parser.add_argument("--budget-mode", choices=["frames", "voxels"], default="frames")
    args = parser.parse_args()
    protocol = protocol_from_arguments(args, args.out, args.ratio, args.budget_mode)
    document = run_protocol(protocol, tuple(args.runs), args.jobs)
    print_report(document)
    report = args.out / f"label_efficiency_{protocol.scoring}.json"
    atomic_write_bytes(report, (json.dumps(document, indent=2) + "\n").encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
