"""`occle bench`: performance benchmarks, one sub-command each (`occle bench scan`, ...).

Adding a benchmark is one function: write ``_register_<name>(benchmarks)`` that adds its parser
to `benchmarks` and sets ``func``, and append it to `_BENCHMARKS`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from occle_core.io.atomic import atomic_write
from occle_core.io.paths import output_file


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="run performance benchmarks",
        description="Performance benchmarks of OccLE's compute kernels.",
    )
    benchmarks = parser.add_subparsers(dest="benchmark", metavar="BENCHMARK", required=True)
    for register_benchmark in _BENCHMARKS:
        register_benchmark(benchmarks)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    """--threads, --repeats and --json, shared by every benchmark."""
    parser.add_argument(
        "--threads", type=_positive_int, default=2, help="torch threads (default: %(default)s)"
    )
    parser.add_argument(
        "--repeats",
        type=_positive_int,
        default=3,
        help="timed runs per measurement, best one reported (default: %(default)s)",
    )
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the results here")


def _write_json(path: Path | None, text: str) -> None:
    if path is not None:
        output_file(path, "--json")
        with atomic_write(path) as f:
            f.write(text.encode("utf-8"))


def _register_scan(benchmarks: argparse._SubParsersAction) -> None:
    from occle_core.bench.scan import DEFAULT_DIMS, DEFAULT_LENGTHS, METHODS

    parser = benchmarks.add_parser(
        "scan",
        help="selective scan: ours vs mambapy's parallel scan vs a loop (CPU)",
        description=(
            "Time and peak memory (RSS growth) of the selective scan, forward and forward + "
            "backward, float32 on CPU, each case in its own process: our chunked scan, "
            "mambapy's parallel scan (if installed) and a sequential loop. Prints a table."
        ),
    )
    parser.add_argument(
        "--lengths",
        type=_positive_int,
        nargs="+",
        default=list(DEFAULT_LENGTHS),
        metavar="L",
        help="sequence lengths (default: %(default)s)",
    )
    parser.add_argument(
        "--dims",
        type=_positive_int,
        nargs="+",
        default=list(DEFAULT_DIMS),
        metavar="D",
        help="channel counts, Mamba's d_inner (default: %(default)s)",
    )
    parser.add_argument(
        "--methods",
        nargs="+",
        choices=METHODS,
        default=list(METHODS),
        help="implementations to measure (default: all)",
    )
    parser.add_argument(
        "--d-state", type=_positive_int, default=16, help="state size (default: %(default)s)"
    )
    parser.add_argument(
        "--batch", type=_positive_int, default=1, help="batch size (default: %(default)s)"
    )
    _add_run_options(parser)
    parser.add_argument(
        "--loop-backward-max-length",
        type=int,
        default=4096,
        metavar="L",
        help="longest L at which the loop's backward runs (default: %(default)s)",
    )
    parser.set_defaults(func=_run_scan)


def _run_scan(args: argparse.Namespace) -> int:
    if args.json is not None:  # before the benchmark runs, not after
        output_file(args.json, "--json")
    from occle_core.bench.scan import ScanResult, benchmark_scan, format_table, results_json

    def progress(result: ScanResult) -> None:
        case = result.case
        mode = "fwd+bwd" if case.backward else "fwd"
        shown = result.note
        if result.seconds is not None and result.peak_mib is not None:
            shown = f"{result.seconds * 1e3:.0f} ms, {result.peak_mib:.0f} MiB"
        print(f"  L={case.length} dim={case.dim} {case.method} {mode}: {shown}", file=sys.stderr)

    results = benchmark_scan(
        args.lengths,
        args.dims,
        args.methods,
        d_state=args.d_state,
        batch=args.batch,
        threads=args.threads,
        repeats=args.repeats,
        loop_backward_max_length=args.loop_backward_max_length,
        progress=progress,
    )
    print(format_table(results))
    _write_json(args.json, results_json(results))
    return 0


def _register_model(benchmarks: argparse._SubParsersAction) -> None:
    parser = benchmarks.add_parser(
        "model",
        help="the whole network: latency, peak memory, parameters per part (CPU)",
        description=(
            "Preprocessing and forward latency, peak memory (RSS growth) and parameter counts "
            "per part of the OccLE network for each model configuration, on this CPU, each "
            "measurement in its own process. Input: 3 aggregated LiDAR scans and the camera "
            "images of a synthetic street scene where the config's grid is a synthetic one, "
            "random points and images otherwise. Prints a table."
        ),
    )
    parser.add_argument(
        "--config",
        nargs="+",
        default=["occle_tiny", "occle_semantickitti"],
        metavar="YAML",
        help="model configuration files or shipped names (default: %(default)s)",
    )
    parser.add_argument(
        "--train-step",
        action="store_true",
        help="also time a training step (forward + backward) and its peak memory",
    )
    parser.add_argument(
        "--scans", type=_positive_int, default=3, help="LiDAR scans per input (default: 3)"
    )
    parser.add_argument(
        "--device", default="cpu", help="cpu or cuda[:N] (GPU times synchronise; default cpu)"
    )
    parser.add_argument(
        "--amp", choices=("off", "bf16", "fp16"), default="off", help="autocast (CUDA only)"
    )
    _add_run_options(parser)
    parser.set_defaults(func=_run_model)


def _run_model(args: argparse.Namespace) -> int:
    if args.json is not None:  # before the benchmark runs, not after
        output_file(args.json, "--json")
    from occle_core.bench.model import (
        ModelCase,
        ModelResult,
        benchmark_models,
        format_table,
        results_json,
    )
    from occle_core.model.config import resolve_model_config
    from occle_core.runtime import resolve_device

    resolve_device(args.device, "--device")  # no silent CPU run of a GPU benchmark
    try:
        paths = [resolve_model_config(name) for name in args.config]
    except FileNotFoundError as error:
        print(f"occle bench model: {error}", file=sys.stderr)
        return 2

    def progress(result: ModelResult) -> None:
        shown = result.note or f"{result.total_ms:.0f} ms per frame"
        print(f"  {result.case.config}: {shown}", file=sys.stderr)

    cases = [
        ModelCase(
            str(path),
            args.threads,
            args.repeats,
            args.train_step,
            args.scans,
            args.device,
            args.amp,
        )
        for path in paths
    ]
    results = benchmark_models(cases, progress=progress)
    print(format_table(results))
    _write_json(args.json, results_json(results))
    return 0 if all(r.params for r in results) else 1


_BENCHMARKS: tuple[Callable[[argparse._SubParsersAction], None], ...] = (
    _register_scan,
    _register_model,
)
