"""CPU benchmark of the selective scan: time and peak memory, forward and forward + backward.

Methods (same computation: y = scan(u, delta, A, B, C) + D u, float32, delta already positive):

* ``occle``: `occle_core.ops.selective_scan_torch` on mamba-ssm's (batch, dim, L) layout.
* ``mambapy``: mambapy's Blelloch parallel scan ``mambapy.pscan.pscan`` inside the same
  discretisation and read-out as ``mambapy.mamba.MambaBlock.selective_scan``, on mambapy's
  (batch, L, dim) layout; the inputs are laid out before the timed region. Skipped, with a
  note, when mambapy is not installed (``pip install occle[bench]``).
* ``loop``: one step per torch call on time-major inputs, autograd for the backward.
  Its backward records L steps and keeps all L states, which takes long and gigabytes for long
  sequences, so it is only run up to ``loop_backward_max_length`` (default 4096).

Measurement, each case in a fresh Python process so that cases do not share allocator state:

* Time: the best of `repeats` runs after one warm-up run; other processes on the machine can
  only add time, so the minimum is the least noisy estimate. "forward" runs under
  ``torch.no_grad()`` (inference), "forward+backward" runs the forward with autograd and the
  backward of a fixed random output gradient (the gradients of u, delta, A, B, C, D).
* Memory, in a second process: one warm-up run (torch pages in each kernel's code on first
  use), then free memory is handed back to the OS (glibc ``malloc_trim``, and a fixed 128 KiB
  mmap threshold so that every larger buffer is unmapped when freed), then the peak resident
  set size (RSS) during a second run minus the RSS just before it: what the run added on top
  of its inputs, outputs and gradients included. Linux's peak counter (VmHWM) is reset through
  /proc/self/clear_refs; where that fails the process-lifetime ``getrusage`` peak is used,
  which can only over-report. RSS counts what torch's CPU allocator really took from the OS
  (it mallocs without caching); tracemalloc would not see torch's allocations at all.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from occle_core.bench.process import MEMORY_ENV, PeakRss, best_time, run_worker, worker_main

METHODS = ("occle", "mambapy", "loop")
DEFAULT_LENGTHS = (4096, 16384, 65536)
DEFAULT_DIMS = (128, 256)
# A timed case stops repeating once its runs have taken this long (at least one timed run).
_TIME_BUDGET_S = 20.0


@dataclass(frozen=True)
class ScanCase:
    """One benchmark measurement.

    Attributes:
        method: one of `METHODS`.
        length: sequence length L.
        dim: channels (Mamba's d_inner).
        backward: time forward + backward instead of the forward alone.
        d_state: state size per channel.
        batch: batch size.
        threads: torch intra-op threads.
        repeats: timed runs (after the warm-up run that measures memory).
    """

    method: str
    length: int
    dim: int
    backward: bool
    d_state: int = 16
    batch: int = 1
    threads: int = 2
    repeats: int = 3


@dataclass
class ScanResult:
    """Outcome of a `ScanCase`: seconds and peak MiB, or None with a note saying why."""

    case: ScanCase
    seconds: float | None = None
    peak_mib: float | None = None
    note: str = ""
    runs: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _build(case: ScanCase) -> tuple[Callable[[], None], list[Any]]:
    """A closure running the measured work of `case`, and its input tensors (in the method's
    layout, their gradients are cleared at the start of each run)."""
    import torch

    from occle_core.ops.selective_scan import selective_scan_torch

    torch.manual_seed(0)
    b, d, n, L = case.batch, case.dim, case.d_state, case.length
    # Mamba-like values: A = -(1..n) (its initialisation), steps in [0.001, 0.101].
    A = -torch.arange(1, n + 1, dtype=torch.float32).repeat(d, 1)
    D = torch.randn(d)
    if case.method == "occle":
        shapes = {"u": (b, d, L), "delta": (b, d, L), "B": (b, n, L), "C": (b, n, L)}
        out_shape: tuple[int, ...] = (b, d, L)
    elif case.method == "mambapy":
        shapes = {"u": (b, L, d), "delta": (b, L, d), "B": (b, L, n), "C": (b, L, n)}
        out_shape = (b, L, d)
    elif case.method == "loop":
        shapes = {"u": (L, b, d), "delta": (L, b, d), "B": (L, b, n), "C": (L, b, n)}
        out_shape = (L, b, d)
    else:
        raise ValueError(f"unknown method {case.method!r}; use one of {METHODS}")
    x = {name: torch.randn(shape) for name, shape in shapes.items()}
    x["delta"] = torch.rand(shapes["delta"]).mul_(0.1).add_(0.001)
    x["A"], x["D"] = A, D
    params = [x[k] for k in ("u", "delta", "A", "B", "C", "D")]
    grad_out = torch.randn(out_shape)

    if case.method == "occle":

        def forward() -> torch.Tensor:
            u, delta, A, B, C, D = params
            y: torch.Tensor = selective_scan_torch(u, delta, A, B, C, D)
            return y

    elif case.method == "mambapy":
        # Imported by name: mambapy has no type information, and may be absent.
        pscan = importlib.import_module("mambapy.pscan").pscan

        def forward() -> torch.Tensor:
            u, delta, A, B, C, D = params
            # mambapy.mamba.MambaBlock.selective_scan's computation, (batch, L, dim, d_state).
            decay = torch.exp(delta.unsqueeze(-1) * A)
            inputs = (delta * u).unsqueeze(-1) * B.unsqueeze(2)
            states = pscan(decay, inputs)
            return (states @ C.unsqueeze(-1)).squeeze(3) + D * u

    else:

        def forward() -> torch.Tensor:
            return _loop_scan(*params)

    if not case.backward:

        def run() -> None:
            with torch.no_grad():
                forward()

        return run, params

    for p in params:
        p.requires_grad_()

    def run_backward() -> None:
        for p in params:
            p.grad = None
        forward().backward(grad_out)

    return run_backward, params


def _loop_scan(u: Any, delta: Any, A: Any, B: Any, C: Any, D: Any) -> Any:
    """Sequential scan, one step per torch call: u, delta (L, batch, dim); B, C (L, batch, n)."""
    import torch

    h = u.new_zeros(u.shape[1], u.shape[2], A.shape[1])
    ys = []
    steps = zip(u.unbind(0), delta.unbind(0), B.unbind(0), C.unbind(0), strict=True)
    for u_t, delta_t, B_t, C_t in steps:
        decay = torch.exp(delta_t.unsqueeze(-1) * A)
        h = decay * h + (delta_t * u_t).unsqueeze(-1) * B_t.unsqueeze(1)
        ys.append(torch.einsum("bdn,bn->bd", h, C_t))
    return torch.stack(ys) + D * u


def measure_time(case: ScanCase) -> dict[str, Any]:
    """Times `case` in this process: best of `case.repeats` runs after a warm-up run."""
    import torch

    torch.set_num_threads(case.threads)
    run, _ = _build(case)
    seconds, runs = best_time(run, case.repeats, _TIME_BUDGET_S)
    return {"seconds": seconds, "runs": runs}


def measure_memory(case: ScanCase) -> dict[str, Any]:
    """Peak RSS growth of one run of `case` in this process, after a warm-up run.

    The warm-up run keeps one-time costs out of the number (torch pages in the code of each
    kernel on first use, tens of MiB). What the warm-up freed is handed back to the OS before
    the measured run (`PeakRss`, and `MEMORY_ENV` in the worker's environment),
    so that the measured run's allocations show up in RSS instead of reusing malloc's cache.
    """
    import torch

    torch.set_num_threads(case.threads)
    run, inputs = _build(case)
    run()
    for tensor in inputs:  # the warm-up's gradients would be freed inside the measured run
        tensor.grad = None
    with PeakRss() as probe:
        run()
    return {"peak_mib": probe.peak_mib, "peak_counter": probe.counter}


def _run_worker(
    case: ScanCase, what: str, timeout_s: float, extra_env: dict[str, str]
) -> dict[str, Any] | str:
    """Runs `measure_<what>(case)` in a fresh Python process; a string says why it failed."""
    arguments = [what, json.dumps(asdict(case))]
    return run_worker("occle_core.bench.scan", arguments, timeout_s, extra_env)


def run_case(case: ScanCase, timeout_s: float = 600.0) -> ScanResult:
    """Measures `case`: time in one fresh process, memory in another; failures become notes."""
    timing = _run_worker(case, "time", timeout_s, {})
    if isinstance(timing, str):
        return ScanResult(case, note=timing)
    memory = _run_worker(case, "memory", timeout_s, MEMORY_ENV)
    if isinstance(memory, str):
        return ScanResult(case, seconds=timing["seconds"], runs=timing["runs"], note=memory)
    return ScanResult(
        case,
        seconds=timing["seconds"],
        peak_mib=memory["peak_mib"],
        runs=timing["runs"],
        extra={"peak_counter": memory["peak_counter"]},
    )


def mambapy_available() -> bool:
    """Whether mambapy (the `bench` extra) can be imported for the comparison."""
    return importlib.util.find_spec("mambapy") is not None


def benchmark_scan(
    lengths: Sequence[int] = DEFAULT_LENGTHS,
    dims: Sequence[int] = DEFAULT_DIMS,
    methods: Sequence[str] = METHODS,
    *,
    d_state: int = 16,
    batch: int = 1,
    threads: int = 2,
    repeats: int = 3,
    loop_backward_max_length: int = 4096,
    timeout_s: float = 600.0,
    progress: Callable[[ScanResult], None] | None = None,
) -> list[ScanResult]:
    """Times every (length, dim, method) forward and forward + backward, one process each.

    Args:
        lengths: sequence lengths L.
        dims: channel counts (d_inner).
        methods: subset of `METHODS`.
        d_state, batch, threads, repeats: see `ScanCase`.
        loop_backward_max_length: longest L at which the loop's backward is run.
        timeout_s: limit per case.
        progress: called with each result as it arrives.

    Returns:
        One `ScanResult` per case (skipped cases carry a note and no numbers).
    """
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown methods {unknown}; use {METHODS}")
    has_mambapy = mambapy_available()
    results = []
    for length in lengths:
        for dim in dims:
            for method in methods:
                for backward in (False, True):
                    case = ScanCase(method, length, dim, backward, d_state, batch, threads, repeats)
                    if method == "mambapy" and not has_mambapy:
                        result = ScanResult(case, note="skipped: mambapy is not installed")
                    elif method == "loop" and backward and length > loop_backward_max_length:
                        result = ScanResult(
                            case,
                            note=f"skipped: loop backward only up to L = "
                            f"{loop_backward_max_length} (--loop-backward-max-length); autograd "
                            "records every step and keeps all L states",
                        )
                    else:
                        result = run_case(case, timeout_s)
                    if progress is not None:
                        progress(result)
                    results.append(result)
    return results


def _cell(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def format_table(results: Sequence[ScanResult]) -> str:
    """Plain-text table: one row per (L, dim, method), forward and forward + backward columns,
    then the speed of occle relative to mambapy, then the notes of skipped or failed cases."""
    if not results:
        return "(no results)"
    first = results[0].case
    rows: dict[tuple[int, int, str], dict[bool, ScanResult]] = {}
    for r in results:
        rows.setdefault((r.case.length, r.case.dim, r.case.method), {})[r.case.backward] = r
    lines = [
        f"selective scan on CPU: float32, batch {first.batch}, d_state {first.d_state}, "
        f"{first.threads} threads; time = best of up to {first.repeats} runs, "
        "memory = peak RSS growth of the run",
        f"{'L':>6} {'dim':>4}  {'method':<8} {'fwd ms':>9} {'fwd MiB':>8}  "
        f"{'fwd+bwd ms':>10} {'fwd+bwd MiB':>11}",
    ]
    notes = []
    for (length, dim, method), pair in rows.items():
        cells = []
        for cell in (pair.get(False), pair.get(True)):
            cells.append(
                _cell(None if cell is None or cell.seconds is None else cell.seconds * 1e3)
            )
            cells.append(_cell(None if cell is None else cell.peak_mib))
            if cell is not None and cell.note:
                mode = "fwd+bwd" if cell.case.backward else "fwd"
                notes.append(f"L={length} dim={dim} {method} {mode}: {cell.note}")
        lines.append(
            f"{length:>6} {dim:>4}  {method:<8} {cells[0]:>9} {cells[1]:>8}  "
            f"{cells[2]:>10} {cells[3]:>11}"
        )
    speedups = _speedups(rows)
    if speedups:
        lines.append("")
        lines.append("occle vs mambapy (time ratio mambapy/occle, memory ratio mambapy/occle):")
        lines.extend(speedups)
    if notes:
        lines.append("")
        lines.extend(notes)
    return "\n".join(lines)


def _speedups(rows: dict[tuple[int, int, str], dict[bool, ScanResult]]) -> list[str]:
    lines = []
    for (length, dim, method), ours in rows.items():
        theirs = rows.get((length, dim, "mambapy"))
        if method != "occle" or theirs is None:
            continue
        parts = []
        for backward, label in ((False, "fwd"), (True, "fwd+bwd")):
            a, b = ours.get(backward), theirs.get(backward)
            if a is None or b is None or a.seconds is None or b.seconds is None:
                continue
            memory = ""
            if a.peak_mib and b.peak_mib is not None:
                memory = f", memory x{b.peak_mib / a.peak_mib:.1f}"
            parts.append(f"{label} time x{b.seconds / a.seconds:.1f}{memory}")
        if parts:
            lines.append(f"{length:>6} {dim:>4}  " + "; ".join(parts))
    return lines


def results_json(results: Sequence[ScanResult]) -> str:
    """The results as JSON: a list of {case..., seconds, peak_mib, runs, note}."""
    items = []
    for r in results:
        item: dict[str, Any] = asdict(r.case)
        item.update(seconds=r.seconds, peak_mib=r.peak_mib, runs=r.runs, note=r.note, **r.extra)
        items.append(item)
    return json.dumps(items, indent=2)


if __name__ == "__main__":
    sys.exit(worker_main(sys.argv[1:], ScanCase, measure_time, measure_memory))
