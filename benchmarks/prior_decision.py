"""Cost of the decision's class-prior correction (`occle_core.model.prior.decide_labels`)
against the plain argmax, on the logits of the shipped model grids.

    python benchmarks/prior_decision.py [--threads 1] [--repeats 10] [--occupied 0.25]

Logits are random, with the empty class lifted so that about `--occupied` of the voxels are
occupied (only those are re-decided); the figures are milliseconds per decision on this
machine's CPU (the node's CPU fallback), median of the repeats.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial

import torch

from occle_core.model.config import load_model_config
from occle_core.model.prior import decide_labels, log_prior_from_counts

CONFIGS = ("occle_tiny", "occle_occ3d_tiny", "occle_occ3d", "occle_semantickitti")


def milliseconds(run: Callable[[], object], repeats: int) -> float:
    run()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(1000 * (time.perf_counter() - started))
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--occupied", type=float, default=0.25)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    print(f"{'model':<22} {'grid':>16} {'occupied':>9} {'argmax ms':>10} {'corrected ms':>13}")
    for name in CONFIGS:
        config = load_model_config(name)
        classes, empty = config.num_classes, config.empty_label
        logits = torch.randn((1, classes, *config.grid.shape), generator=generator)
        # Lift the empty class until about the asked share of voxels is occupied.
        lift = torch.quantile(
            (logits.max(dim=1).values - logits[:, empty]).flatten()[:1_000_000],
            1.0 - args.occupied,
        )
        logits[:, empty] += lift
        prior = log_prior_from_counts(torch.randint(1, 10_000, (classes,), generator=generator))
        occupied = float((logits.argmax(dim=1) != empty).float().mean())
        plain = milliseconds(partial(torch.argmax, logits, dim=1), args.repeats)
        corrected = milliseconds(partial(decide_labels, logits, empty, prior, 0.5), args.repeats)
        grid = "x".join(str(s) for s in config.grid.shape)
        print(f"{name:<22} {grid:>16} {occupied:9.2f} {plain:10.2f} {corrected:13.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
