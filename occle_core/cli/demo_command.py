"""`occle demo`: the README's main job."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from occle_core.cli.progress import sequence_progress
from occle_core.cli.train_command import progress_printer
from occle_core.demos.real_data import (
    ENV_VAR,
    StepResult,
    default_real_data_dir,
    run_real_data_tour,
)
from occle_core.demos.training_demo import DemoSettings, run_training_demo
from occle_core.errors import ConfigError
from occle_core.eval.report import format_table


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the end-to-end demo: synthetic data, pseudo labels, 10 %% label training, eval",
        description=(
            "The README's main job, on this CPU: generate tiny synthetic sequences in the "
            "SemanticKITTI format, make 2D pseudo labels (simulated foundation model) and lift "
            "them, train OccLE with 10 % of the voxel labels, predict the validation sequence "
            "in the official layout, score it with the official SSC metric next to a LiDAR "
            "baseline, and render prediction vs ground truth. When the real sensor samples are "
            "available, also tour them (projections, voxelisation, Occ3D ground truth)."
        ),
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("results/demo"),
        help="output folder (default: %(default)s)",
    )
    parser.add_argument(
        "--sequences",
        type=int,
        default=5,
        help="synthetic sequences, the last one validates (default: %(default)s)",
    )
    parser.add_argument(
        "--frames", type=int, default=50, help="frames per sequence (default: %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed (default: %(default)s)")
    parser.add_argument(
        "--epochs", type=int, default=0, help="training epochs (default: the training config's)"
    )
    parser.add_argument(
        "--max-steps", type=int, default=0, help="stop training after N steps (default: no limit)"
    )
    parser.add_argument(
        "--checkpoint", type=Path, default=None, help="skip training and evaluate this checkpoint"
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
    if args.frames < 5 or args.sequences < 2:
        print(
            "occle demo: error: needs --frames >= 5 (a voxel-labelled frame every 5th) and "
            "--sequences >= 2 (training and validation)",
            file=sys.stderr,
        )
        return 2
    if args.checkpoint is not None and not Path(args.checkpoint).is_file():
        print(f"occle demo: error: no such checkpoint {args.checkpoint}", file=sys.stderr)
        return 2
    if args.data is not None and not args.no_real and not Path(args.data).is_dir():
        print(
            f"occle demo: error: {args.data}: real-samples folder not found (pass --data with "
            f"the folder of ../shared/data/real, set ${ENV_VAR}, or use --no-real)",
            file=sys.stderr,
        )
        return 2
    from occle_core.io.paths import check_arguments

    check_arguments(args, files=["checkpoint"], out_folders=["out"])
    if args.checkpoint is not None:
        from occle_core.model.checkpoint import read_checkpoint

        read_checkpoint(args.checkpoint)  # before the data is generated, not after
    if args.epochs < 0 or args.max_steps < 0:
        raise ConfigError("--epochs/--max-steps", f"{args.epochs}/{args.max_steps}", ">= 0")
    out = Path(args.out)
    settings = DemoSettings(
        out=out,
        sequences=args.sequences,
        frames=args.frames,
        seed=args.seed,
        epochs=args.epochs,
        max_steps=args.max_steps,
        checkpoint=args.checkpoint,
    )
    started = time.perf_counter()
    result = run_training_demo(
        settings,
        progress=progress_printer(),
        stage_progress=sequence_progress("sequence"),
    )
    print(format_table(result.model))
    print(
        f"wrote {out}/metrics.txt, {out}/metrics.json, {out}/renders/, {out}/run/ "
        f"({time.perf_counter() - started:.0f} s)"
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
