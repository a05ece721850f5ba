"""`occle train`: label-efficient OccLE training from a YAML configuration."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from occle_core.cli.progress import ProgressDisplay
from occle_core.train.trainer import Progress


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train OccLE (label budget, pseudo labels, mean teacher, SAP)",
        description=(
            "Train OccLE from a training configuration (config/train/*.yaml). Any key can be "
            "overridden as key=value with dotted keys, e.g. budget.ratio=0.1 "
            "data.root=/data/kitti optim.lr=1e-3. The run folder gets config.yaml, "
            "label_budget.json, metrics.jsonl, checkpoints/last.pt and best.pt."
        ),
    )
    parser.add_argument("--config", type=Path, help="training configuration YAML")
    parser.add_argument(
        "--run",
        type=Path,
        required=True,
        help="run folder (created; one that holds a run needs --resume or --force)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in RUN (its config.yaml, checkpoints/last.pt); overrides may "
        "only change epochs, max_steps, device, threads, validate_every and log_every",
    )
    parser.add_argument(
        "--force", action="store_true", help="delete the run files in RUN and start over"
    )
    parser.add_argument(
        "--checkpoint-every",
        type=int,
        default=50,
        help="write last.pt every N optimiser steps as well as per epoch (default: %(default)s)",
    )
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides")
    parser.set_defaults(func=run)


def progress_printer() -> Callable[[Progress], None]:
    """A training progress callback: step, epoch, loss, elapsed, ETA and validation mIoU."""
    display = ProgressDisplay("training", unit="steps")

    def show(p: Progress) -> None:
        note = (
            f"epoch {p.epoch}  loss {p.loss:.3f}  {p.elapsed_s:.0f} s elapsed, ETA {p.eta_s:.0f} s"
        )
        if p.validation:
            note += f"  val mIoU {100 * p.validation['miou']:.1f} %"
        display.update(p.step, note, total=p.total_steps)

    return show


def run(args: argparse.Namespace) -> int:
    from occle_core.errors import ConfigError
    from occle_core.io.paths import check_arguments, input_folder
    from occle_core.train.run_folder import prepare_run_folder
    from occle_core.train.trainer import Trainer

    check_arguments(args, out_folders=["run"])
    if args.checkpoint_every < 0:
        raise ConfigError("--checkpoint-every", f"{args.checkpoint_every}", ">= 0 (0: per epoch)")
    config_file = str(args.config) if args.config is not None else None
    start = prepare_run_folder(args.run, config_file, args.overrides, args.resume, args.force)
    config = start.config
    if not config.data.root:
        raise ConfigError("data.root", "not set", "a dataset folder (config or data.root=DIR)")
    input_folder(config.data.root, "data.root")
    for path in start.removed_temporaries:
        print(f"removed {path} (left by an interrupted checkpoint write)", file=sys.stderr)
    for key, (before, after) in start.changes.items():
        print(f"resuming with {key}: {before!r} -> {after!r}", file=sys.stderr)
    trainer = Trainer(config, args.run, checkpoint_every=args.checkpoint_every)
    if start.resuming and trainer.resume():
        print(f"resumed at step {trainer.step} of {trainer.total_steps}", file=sys.stderr)
    result = trainer.fit(progress_printer())
    best = "-" if result.best_miou is None else f"{100 * result.best_miou:.2f} %"
    print(f"trained {result.steps} steps; best validation mIoU {best}; {result.best_checkpoint}")
    return 0
