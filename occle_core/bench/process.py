"""Measurement plumbing shared by the benchmarks: peak-RSS probes and worker processes.

Each measurement runs in a fresh Python process so that cases do not share allocator state.
Memory is the peak resident set size (RSS) during a run minus the RSS just before it: what the
run added on top of its inputs. RSS counts what torch's CPU allocator really took from the OS
(it mallocs without caching); tracemalloc would not see torch's allocations at all.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import os
import resource
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

MIB = float(1 << 20)

# glibc malloc would keep freed blocks below its (adaptive) mmap threshold for reuse, hiding
# the measured run's allocations behind the warm-up's; a fixed 128 KiB threshold makes every
# larger buffer an mmap that free() returns. Only memory workers use it: it slows compute by
# 20-30 %, so timing workers keep the default allocator.
MEMORY_ENV = {"MALLOC_MMAP_THRESHOLD_": "131072", "MALLOC_TRIM_THRESHOLD_": "131072"}


def rss_bytes() -> int:
    with Path("/proc/self/statm").open() as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def release_free_memory() -> None:
    """glibc's malloc_trim(0): return free heap pages (small tensors) to the OS; no-op elsewhere."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def reset_peak() -> bool:
    """Reset Linux's peak RSS (VmHWM) to the current RSS; False where that is not possible."""
    try:
        with Path("/proc/self/clear_refs").open("w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_bytes(reset_worked: bool) -> int:
    if reset_worked:
        with Path("/proc/self/status").open() as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    # ru_maxrss is in KiB on Linux (bytes on macOS, where the benchmarks are not calibrated).
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class PeakRss:
    """Context manager measuring the peak RSS growth of its body, in MiB (`peak_mib`).

    Linux's peak counter (VmHWM) is reset through /proc/self/clear_refs on entry; where that
    fails the process-lifetime ``getrusage`` peak is used (`counter` says which), which can
    only over-report.
    """

    def __init__(self) -> None:
        self.peak_mib = 0.0
        self.counter = "VmHWM"
        self._base = 0
        self._reset = False

    def __enter__(self) -> PeakRss:
        gc.collect()
        release_free_memory()
        self._base = rss_bytes()
        self._reset = reset_peak()
        self.counter = "VmHWM" if self._reset else "ru_maxrss"
        return self

    def __exit__(self, *exc: object) -> None:
        self.peak_mib = (peak_bytes(self._reset) - self._base) / MIB


def run_worker(
    module: str,
    arguments: Sequence[str],
    timeout_s: float,
    extra_env: dict[str, str] | None = None,
) -> dict[str, Any] | str:
    """Run ``python -m module *arguments`` in a fresh process and parse the JSON object on the
    last line of its output; on failure, a string says why."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    env.update(extra_env or {})
    command = [sys.executable, "-m", module, *arguments]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout_s, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        return f"timed out after {timeout_s:.0f} s"
    if done.returncode < 0:
        return f"killed by signal {-done.returncode} (out of memory?)"
    if done.returncode != 0:
        lines = (done.stderr or "").strip().splitlines()
        return f"failed: {lines[-1] if lines else f'exit code {done.returncode}'}"
    data: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return data


def best_time(run: Callable[[], None], repeats: int, budget_s: float) -> tuple[float, int]:
    """Best of up to `repeats` timed runs after one warm-up; stops early once `budget_s` is
    spent (at least one timed run). Returns (seconds, runs)."""
    import time

    start = time.perf_counter()
    run()
    spent = time.perf_counter() - start
    times: list[float] = []
    while len(times) < repeats and (not times or spent < budget_s):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
        spent += times[-1]
    return min(times), len(times)


def worker_main(
    argv: Sequence[str],
    case_type: Callable[..., Any],
    measure_time: Callable[[Any], dict[str, Any]],
    measure_memory: Callable[[Any], dict[str, Any]],
) -> int:
    """Entry point of a benchmark's worker process: ``python -m MODULE time|memory CASE_JSON``
    measures one case and prints the result as JSON on the last line (read by `run_worker`)."""
    import argparse

    parser = argparse.ArgumentParser(description="internal: measure one benchmark case")
    parser.add_argument("what", choices=("time", "memory"))
    parser.add_argument("case", help="the case's fields as JSON")
    args = parser.parse_args(argv)
    case = case_type(**json.loads(args.case))
    result = measure_time(case) if args.what == "time" else measure_memory(case)
    print(json.dumps(result))
    return 0
