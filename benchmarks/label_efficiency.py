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

`--layout occ3d` repeats it on the surround rig in the Occ3D-nuScenes layout
(`config/train/occle_occ3d_tiny_synthetic.yaml`: scenes 0-3 train, scene-0004 validates, six
cameras, 4 LiDAR sweeps per key frame) and scores with `occle eval occ3d` (mIoU inside
`mask_camera`; the completion IoU there is occupied-vs-free inside the mask).

`--runs occle --set objective.sap=0` (any `occle train` override, applied to every run) is how
the ablations in docs/training.md were run; give each its own OUT, with OUT/synthetic a link to
an existing dataset to reuse it.
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
CONFIGS = Path(__file__).resolve().parents[1] / "config" / "train"
TRAIN_CONFIG = {
    "semantickitti": CONFIGS / "occle_tiny_synthetic.yaml",
    "occ3d": CONFIGS / "occle_occ3d_tiny_synthetic.yaml",
}
SCENES = ["scene-0000", "scene-0001", "scene-0002", "scene-0003", "scene-0004"]


def make_dataset(dataset: Path, layout: str, seed: int) -> None:
    synth = ["synth", "--out", str(dataset), "--sequences", "0", "1", "2", "3", "4"]
    synth += ["--frames", "50", "--seed", str(seed), "--no-preview", "--layout", layout]
    assert occle(synth) == 0
    pseudo = ["pseudo-label", "--dataset", str(dataset), "--layout", layout]
    if layout == "occ3d":
        pseudo += ["--sequences", *SCENES, "--sweeps", "4"]
    else:
        pseudo += ["--sequences", "0", "1", "2", "3", "4"]
    assert occle(pseudo) == 0


def predict_and_score(checkpoint: Path, dataset: Path, run_dir: Path, layout: str) -> dict:
    predictions = run_dir / "predictions"
    report = run_dir / "eval.json"
    infer = ["infer", "--checkpoint", str(checkpoint), "--dataset", str(dataset)]
    if layout == "occ3d":
        infer += ["--layout", "occ3d", "--sequences", SCENES[-1], "--sweeps", "4"]
        assert occle([*infer, "--out", str(predictions)]) == 0
        evaluate = ["eval", "occ3d", "--gts", str(dataset / "gts"), "--predictions"]
        evaluate += [str(predictions), "--scenes", SCENES[-1], "--json", str(report)]
    else:
        assert occle([*infer, "--sequences", "04", "--out", str(predictions)]) == 0
        evaluate = ["eval", "semantickitti", "--dataset", str(dataset), "--predictions"]
        evaluate += [str(predictions), "--sequences", "04", "--json", str(report)]
    assert occle(evaluate) == 0
    return json.loads(report.read_text())


def run(
    out: Path,
    epochs: int,
    seed: int,
    runs: list[str],
    layout: str = "semantickitti",
    extra: tuple[str, ...] = (),
) -> dict[str, dict[str, float]]:
    dataset = out / "synthetic"
    if not dataset.exists():
        make_dataset(dataset, layout, seed)
    results = {}
    for name in runs:
        started = time.perf_counter()
        run_dir = out / name
        train = ["train", "--config", str(TRAIN_CONFIG[layout]), "--run", str(run_dir)]
        overrides = [
            f"data.root={dataset}",
            f"epochs={epochs}",
            f"seed={seed}",
            *RUNS[name],
            *extra,
        ]
        assert occle([*train, "--resume", *overrides]) == 0
        scores = predict_and_score(run_dir / "checkpoints" / "last.pt", dataset, run_dir, layout)
        manifest = json.loads((run_dir / "label_budget.json").read_text())
        results[name] = {
            "iou": scores["iou"] if "iou" in scores else scores["iou_geometry"],
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
    parser.add_argument("--layout", choices=list(TRAIN_CONFIG), default="semantickitti")
    parser.add_argument(
        "--set",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="training-config overrides for every run, after the run's own "
        "(e.g. objective.final_pseudo_end=0); the dataset in OUT/synthetic is reused if present",
    )
    args = parser.parse_args()
    results = run(args.out, args.epochs, args.seed, args.runs, args.layout, tuple(args.set))
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
