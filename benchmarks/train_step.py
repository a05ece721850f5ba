#!/usr/bin/env python3
"""Benchmark of one label-efficient training step, split into its phases.

Builds a `Trainer` from a training configuration (default: the CPU demo's,
`config/train/occle_tiny_synthetic.yaml`) on a small synthetic dataset it generates (or
`--dataset`), runs `--warmup` steps, then times `--steps` steps and prints, per phase, the mean
milliseconds per step and its share:

* data: `OccupancyDataset.__getitem__` (aggregation, pseudo-label reads, LiDAR ray tracing),
  or the in-memory sample cache's lookup with `data.cache_samples=true`;
* batch: `BatchBuilder` (voxelisation, image normalisation, pixel maps) and the copy to device;
* student: the student's forward;
* teacher: the mean teacher's forward (its occupancy logits; only while the semi term weighs);
* losses: `compute_losses`;
* backward + optimiser: the rest of the step (backward, clipping, AdamW);
* EMA: the teacher's weight update.

The semi-supervised ramp is skipped (`ramp_fraction=0`) so that every timed step runs the
teacher, as most steps of a real run do.

    python benchmarks/train_step.py [--config occle_tiny_synthetic] [--steps 20]
        [--set data.cache_samples=false ...] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

import occle_core.train.step as step_module
from occle_core.cli.main import main as occle
from occle_core.train.config import load_train_config
from occle_core.train.trainer import Trainer

PHASES = ("data", "batch", "student", "teacher", "losses", "backward + optimiser", "EMA")


class PhaseClock:
    """Accumulates wall time per phase name."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - start

    def timed(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self.phase(name):
                return function(*args, **kwargs)

        return wrapper


def make_dataset(root: Path) -> None:
    """Two tiny synthetic sequences of 20 frames (4 key frames each) and their pseudo labels."""
    synth = ["synth", "--out", str(root), "--sequences", "0", "1", "--frames", "20"]
    assert occle([*synth, "--seed", "0", "--no-preview"]) == 0
    assert occle(["pseudo-label", "--dataset", str(root), "--sequences", "0", "1"]) == 0


def instrument(trainer: Trainer, clock: PhaseClock) -> None:
    """Wrap the step's parts so that `clock` sees each phase (the benchmark's only change)."""
    step, dataset = trainer.training_step, trainer.train_set
    read = dataset.__getitem__
    wrap(
        clock, trainer, "_next_samples", "data", lambda: [read(i) for i in trainer._next_indices()]
    )
    wrap(clock, step, "augmented", "batch")
    wrap(clock, step.network, "forward", "student")
    wrap(clock, step.teacher, "occupancy_logits", "teacher")
    wrap(clock, step.teacher, "update", "EMA")
    wrap(clock, step_module, "compute_losses", "losses")


def wrap(
    clock: PhaseClock,
    owner: object,
    attribute: str,
    phase: str,
    function: Callable[..., Any] | None = None,
) -> None:
    """Replace `owner.attribute` by `function` (default: itself) timed as `phase`."""
    setattr(owner, attribute, clock.timed(phase, function or getattr(owner, attribute)))


def bench(config: str, dataset: Path, steps: int, warmup: int, overrides: list[str]) -> dict:
    sequences = 'data.train_sequences=["00", "01"]'
    settings = [f"data.root={dataset}", sequences, "data.val_sequences=[]"]
    settings += ["ramp_fraction=0", "max_steps=0", "epochs=1000", *overrides]
    train_config = load_train_config(config, settings)
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(train_config, run_dir, checkpoint_every=0)
        trainer.network.train()
        clock = PhaseClock()
        instrument(trainer, clock)
        step = trainer.training_step
        for i in range(warmup + steps):
            if i == warmup:
                clock.seconds.clear()
                started = time.perf_counter()
            step.run(i, 10**6, trainer._learning_rate(), trainer._next_samples)
        wall = time.perf_counter() - started
    phases = {name: 1000 * clock.seconds.get(name, 0.0) / steps for name in PHASES[:-2]}
    phases["EMA"] = 1000 * clock.seconds.get("EMA", 0.0) / steps
    step_ms = 1000 * wall / steps
    phases["backward + optimiser"] = step_ms - sum(phases.values())
    return {
        "config": config,
        "overrides": overrides,
        "steps": steps,
        "samples": len(trainer.train_set),
        "step_ms": step_ms,
        "phases_ms": {name: phases[name] for name in PHASES},
        "threads": torch.get_num_threads(),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="occle_tiny_synthetic")
    parser.add_argument("--dataset", type=Path, help="a synthetic dataset with pseudo labels")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=8)
    parser.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        dataset = args.dataset
        if dataset is None:
            dataset = Path(folder) / "synthetic"
            make_dataset(dataset)
        result = bench(args.config, dataset, args.steps, args.warmup, args.set)
    print(f"{args.config} {' '.join(args.set)}: {result['samples']} samples, ", end="")
    print(f"{result['threads']} threads, {result['step_ms']:.0f} ms per step")
    for name, ms in result["phases_ms"].items():
        print(f"  {name:<22} {ms:8.1f} ms {100 * ms / result['step_ms']:5.1f} %")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
