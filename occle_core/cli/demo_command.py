"""`occle demo`: the README's main job."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from occle_core.cli.progress import sequence_progress
from occle_core.demos.real_data import (
    ENV_VAR,
    StepResult,
    default_real_data_dir,
    run_real_data_tour,
)
from occle_core.demos.synthetic_baseline import run_synthetic_baseline
from occle_core.eval.report import format_table


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the end-to-end demo (synthetic world, baseline, official scores)",
        description=(
            "Generate a synthetic dataset in the SemanticKITTI format (the embedded default), "
            "predict it with a LiDAR point-label baseline written in the official submission "
            "layout, and score it with the official SSC metric. When the real sensor samples "
            "are available, also project real LiDAR into real KITTI and nuScenes images, "
            "voxelise real SemanticKITTI scans and render the real Occ3D ground truth."
        ),
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("results/demo"),
        help="output folder (default: %(default)s)",
    )
    parser.add_argument(
        "--frames", type=int, default=20, help="synthetic frames to generate (default: %(default)s)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="synthetic world seed (default: %(default)s)"
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help=f"real-samples folder (default: ${ENV_VAR} or ../shared/data/real; "
        "skipped when absent)",
    )
    parser.add_argument("--no-real", action="store_true", help="skip the real-sample tour")
    parser.set_defaults(func=run)


def _print_step(result: StepResult) -> None:
    figures = ", ".join(f"{k}={v}" for k, v in result.figures.items())
    print(f"[{result.seconds:6.2f} s] {result.name}: {figures}")
    for output in result.outputs:
        print(f"           wrote {output}")


def run(args: argparse.Namespace) -> int:
    if args.frames < 1:
        print("occle demo: error: --frames must be >= 1", file=sys.stderr)
        return 2
    out = Path(args.out)
    print(f"occle demo: synthetic world (seed {args.seed}, {args.frames} frames) -> {out}")
    result = run_synthetic_baseline(
        out, frames=args.frames, seed=args.seed, progress=sequence_progress("synthetic sequence")
    )
    print("LiDAR point-label baseline, official SemanticKITTI SSC metric:")
    print(format_table(result.scores))
    print(
        f"wrote {out}/synthetic (dataset), {out}/predictions, {out}/metrics.json, {out}/preview.png"
    )
    if args.no_real:
        return 0
    data = Path(args.data) if args.data else default_real_data_dir()
    if args.data is None and not data.is_dir():
        print(
            f"occle demo: real samples not found at {data}; skipping the real-sample tour "
            f"(pass --data or set ${ENV_VAR})"
        )
        return 0
    print(f"occle demo: real samples from {data} -> {out / 'real'}")
    run_real_data_tour(data, out / "real", report=_print_step)
    return 0
