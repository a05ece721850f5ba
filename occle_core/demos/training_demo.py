"""The README's main job: label-efficient OccLE end to end on synthetic scenes, on a CPU.

1. `occle synth`: a few tiny-scale synthetic sequences in the SemanticKITTI format (the last one
   is the validation sequence);
2. `occle pseudo-label`: 2D pseudo labels of every image from the simulated foundation model,
   lifted to the points;
3. a LiDAR point-label baseline on the validation sequence, as a reference row;
4. `occle train` with `config/train/occle_tiny_synthetic.yaml`: 10 % of the voxel labels
   (frames mode), pseudo labels, mean teacher, SAP;
5. `occle infer` + `occle eval` on the validation sequence;
6. renderings: prediction vs ground truth (3D and top view), predicted voxels over the camera
   image, confusion matrix, training curves.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from occle_core.data.semantickitti.sequence import (
    SemanticKittiSequence,
    read_prediction,
)
from occle_core.data.synthetic.generate import SynthConfig, write_synthetic_dataset
from occle_core.demos.render import (
    render_confusion,
    render_frame_comparison,
    render_training_curves,
)
from occle_core.demos.synthetic_baseline import score_baseline
from occle_core.eval.report import format_table, report_dict
from occle_core.eval.semantickitti import SSCScores, evaluate_semantickitti
from occle_core.infer import infer_sequences
from occle_core.io.atomic import atomic_write_bytes
from occle_core.pseudo.alignment import load_alignment
from occle_core.pseudo.generate import PseudoLabelReport, SimulatedLabeller, generate_pseudo_labels
from occle_core.runtime import ModelRunner
from occle_core.train.config import load_train_config
from occle_core.train.trainer import Progress, Trainer

TRAIN_CONFIG = "occle_tiny_synthetic"  # config/train/occle_tiny_synthetic.yaml


@dataclass(frozen=True)
class DemoSettings:
    """What the demo does.

    Attributes:
        out: output folder.
        sequences: synthetic sequences (the last one validates).
        frames: scans per sequence (voxel ground truth every 5th).
        seed: world and training seed.
        epochs: training epochs (0: the training config's).
        max_steps: stop training after this many steps (0: no limit).
        checkpoint: skip training and evaluate this checkpoint.
        train_config: the training configuration (file or shipped name).
    """

    out: Path
    sequences: int = 5
    frames: int = 50
    seed: int = 0
    epochs: int = 0
    max_steps: int = 0
    checkpoint: Path | None = None
    train_config: str = TRAIN_CONFIG


@dataclass
class DemoResult:
    """Scores of the trained model and of the LiDAR baseline, and the files written."""

    model: SSCScores
    baseline: SSCScores
    pseudo: list[PseudoLabelReport]
    checkpoint: Path
    train_seconds: float
    outputs: list[Path]


def _names(count: int) -> list[str]:
    return [f"{i:02d}" for i in range(count)]


def _comparison_table(model: SSCScores, baseline: SSCScores) -> str:
    rows = [("OccLE, 10 % voxel labels", model), ("LiDAR point-label baseline", baseline)]
    lines = [f"{'method':<28} {'IoU':>7} {'mIoU':>7} {'precision':>9} {'recall':>7}"]
    for name, s in rows:
        lines.append(
            f"{name:<28} {100 * s.completion_iou:7.2f} {100 * s.miou:7.2f} "
            f"{100 * s.precision:9.2f} {100 * s.recall:7.2f}"
        )
    return "\n".join(lines)


def run_training_demo(
    settings: DemoSettings,
    say: Callable[[str], None] = print,
    progress: Callable[[Progress], None] | None = None,
    stage_progress: Callable[[str, str, int, int], None] = lambda *_: None,
) -> DemoResult:
    """Run the demo (see the module docstring); returns the scores and what was written."""
    out = Path(settings.out)
    dataset = out / "synthetic"
    names = _names(settings.sequences)
    if settings.sequences < 2:
        raise ValueError("the demo needs at least 2 sequences (training and validation)")
    train_names, val_name = names[:-1], names[-1]

    say(f"[1/6] synthetic dataset: {len(names)} sequences x {settings.frames} frames -> {dataset}")
    synth = SynthConfig(frames=settings.frames, seed=settings.seed, scale="tiny", previews=False)
    write_synthetic_dataset(dataset, names, synth, progress=stage_progress)

    say("[2/6] pseudo labels (simulated foundation model, real class alignment and merge)")
    labeller = SimulatedLabeller(load_alignment("semantickitti"), None, settings.seed)
    pseudo = generate_pseudo_labels(
        dataset,
        names,
        labeller,
        settings={"source": "simulated", "seed": settings.seed},
        progress=lambda seq, done, total: stage_progress(seq, "pseudo labels", done, total),
    )
    for report in pseudo:
        say(
            f"      sequence {report.sequence}: 2D pseudo-label mIoU "
            f"{100 * (report.image_miou or 0):.1f} %, lifted points "
            f"{100 * (report.point_miou or 0):.1f} % on {100 * (report.point_coverage or 0):.1f} % "
            "of the points"
        )

    say("[3/6] LiDAR point-label baseline on the validation sequence")
    baseline = score_baseline(dataset, val_name, out / "baseline_predictions")

    started = time.perf_counter()
    if settings.checkpoint is None:
        overrides = [
            f"data.root={dataset}",
            f"data.train_sequences={train_names}",
            f"data.val_sequences=['{val_name}']",
            f"seed={settings.seed}",
        ]
        if settings.epochs:
            overrides.append(f"epochs={settings.epochs}")
        if settings.max_steps:
            overrides.append(f"max_steps={settings.max_steps}")
        config = load_train_config(settings.train_config, overrides)
        trainer = Trainer(config, out / "run")
        say(
            f"[4/6] training OccLE ({trainer.total_steps} steps, {config.budget.ratio:.0%} of the "
            f"voxel labels, {config.budget.mode} mode) -> {out / 'run'}"
        )
        result = trainer.fit(progress)
        checkpoint = result.best_checkpoint
    else:
        say(f"[4/6] training skipped: {settings.checkpoint}")
        checkpoint = Path(settings.checkpoint)
    train_seconds = time.perf_counter() - started

    say("[5/6] inference and the official SemanticKITTI SSC metric on the validation sequence")
    runner = ModelRunner.from_checkpoint(checkpoint, device="cpu")
    predictions = out / "predictions"
    infer_sequences(runner, dataset, [val_name], predictions)
    scores = evaluate_semantickitti(dataset, predictions, [val_name])

    say("[6/6] renderings")
    renders = out / "renders"
    outputs: list[Path] = []
    sequence = SemanticKittiSequence(dataset, val_name)
    for index in sequence.voxel_ids[-2:]:
        prediction_file = (
            predictions / "sequences" / val_name / "predictions" / f"{index:06d}.label"
        )
        prediction = read_prediction(prediction_file, sequence.grid.shape)
        outputs += render_frame_comparison(sequence, index, prediction, renders)
    outputs.append(
        render_confusion(scores.confusion, sequence.labels.class_names, renders / "confusion.png")
    )
    metrics_file = out / "run" / "metrics.jsonl"
    if metrics_file.exists():
        outputs.append(render_training_curves(metrics_file, renders / "training_curves.png"))

    table = _comparison_table(scores, baseline)
    text = f"{format_table(scores)}\n\n{table}\n"
    atomic_write_bytes(out / "metrics.txt", text.encode())
    summary = {
        "occle": report_dict(scores),
        "lidar_baseline": report_dict(baseline),
        "pseudo_labels": [
            {"sequence": r.sequence, "image_miou": r.image_miou, "point_miou": r.point_miou}
            for r in pseudo
        ],
        "checkpoint": str(checkpoint),
        "train_seconds": round(train_seconds, 1),
    }
    atomic_write_bytes(out / "metrics.json", json.dumps(summary, indent=2).encode())
    outputs += [out / "metrics.txt", out / "metrics.json"]
    say(table)
    return DemoResult(scores, baseline, pseudo, checkpoint, train_seconds, outputs)
