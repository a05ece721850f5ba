"""Label-efficiency experiment on synthetic scenes: how much of the gap between training with
10 % of the voxel labels alone and training with all of them does OccLE recover?

Runs, all from `config/train/occle_tiny_synthetic.yaml` on the same dataset and seed:

  (a) full:   100 % of the voxel labels, every OccLE loss;
  (b) occle:  10 % of the voxel labels (frames mode) + pseudo labels + mean teacher + SAP;
  (c) sparse: 10 % of the voxel labels alone: no pseudo labels, no semi-supervision, no SAP
      (and so none of the pseudo-label losses).

Each run is trained with `occle train`, predicted with `occle infer` and scored with
`occle eval semantickitti` on the validation sequence; the script prints a table and writes
ROOT/label_efficiency.json. Usage:

    python benchmarks/label_efficiency.py --out results/label_efficiency [--epochs 10]

It generates the dataset (5 tiny sequences x 50 frames) and pseudo labels first unless
OUT/synthetic exists. About 30 minutes on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from occle_core.cli.main import main as occle

RUNS = {
    "full": ["budget.mode=all"],
    "occle": [],
    "sparse": [
        "data.pseudo_labels=false",
        "objective.semi=0",
        "objective.sap=0",
        "objective.image=0",
        "objective.voxel=0",
        "objective.final_pseudo=0",
    ],
}
TRAIN_CONFIG = (
    Path(__file__).resolve().parents[1] / "config" / "train" / "occle_tiny_synthetic.yaml"
)


def run(out: Path, epochs: int, seed: int, runs: list[str]) -> dict[str, dict[str, float]]:
    dataset = out / "synthetic"
    sequences = ["0", "1", "2", "3", "4"]
    if not dataset.exists():
        synth = ["synth", "--out", str(dataset), "--sequences", *sequences, "--frames", "50"]
        assert occle([*synth, "--seed", str(seed), "--no-preview"]) == 0
        assert occle(["pseudo-label", "--dataset", str(dataset), "--sequences", *sequences]) == 0
    results = {}
    for name in runs:
        started = time.perf_counter()
        run_dir = out / name
        train = ["train", "--config", str(TRAIN_CONFIG), "--run", str(run_dir), "--resume"]
        overrides = [f"data.root={dataset}", f"epochs={epochs}", f"seed={seed}", *RUNS[name]]
        assert occle([*train, *overrides]) == 0
        checkpoint = run_dir / "checkpoints" / "last.pt"
        predictions = run_dir / "predictions"
        infer = ["infer", "--checkpoint", str(checkpoint), "--dataset", str(dataset)]
        assert occle([*infer, "--sequences", "04", "--out", str(predictions)]) == 0
        report = run_dir / "eval.json"
        evaluate = ["eval", "semantickitti", "--dataset", str(dataset), "--predictions"]
        assert occle([*evaluate, str(predictions), "--sequences", "04", "--json", str(report)]) == 0
        scores = json.loads(report.read_text())
        manifest = json.loads((run_dir / "label_budget.json").read_text())
        results[name] = {
            "iou": scores["iou"],
            "miou": scores["miou"],
            "label_share": manifest["voxels"]["kept_share"],
            "minutes": round((time.perf_counter() - started) / 60, 1),
        }
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("results/label_efficiency"))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", nargs="+", choices=list(RUNS), default=list(RUNS))
    args = parser.parse_args()
    results = run(args.out, args.epochs, args.seed, args.runs)
    print(f"{'run':<8} {'labels':>7} {'IoU %':>7} {'mIoU %':>7} {'minutes':>8}")
    for name, r in results.items():
        print(
            f"{name:<8} {100 * r['label_share']:6.1f}% {r['iou']:7.2f} {r['miou']:7.2f} "
            f"{r['minutes']:8.1f}"
        )
    if {"full", "occle", "sparse"} <= set(results):
        gap = results["full"]["miou"] - results["sparse"]["miou"]
        recovered = (
            (results["occle"]["miou"] - results["sparse"]["miou"]) / gap if gap else float("nan")
        )
        print(f"OccLE recovers {100 * recovered:.0f} % of the mIoU gap between (c) and (a)")
    (args.out / "label_efficiency.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
