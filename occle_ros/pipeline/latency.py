"""Latency accounting: per-stage durations and stamp-to-publish latency, summarised."""

from __future__ import annotations

import threading
from collections import defaultdict, deque

import numpy as np


class LatencyStats:
    """Rolling window of durations (seconds) per named stage.

    Args:
        window: samples kept per stage.
    """

    def __init__(self, window: int = 1000):
        self._samples: dict[str, deque[float]] = defaultdict(lambda: deque(maxlen=window))
        # The node records on its inference thread and summarises on its diagnostics timer.
        self._lock = threading.Lock()

    def record(self, stage: str, seconds: float) -> None:
        with self._lock:
            self._samples[stage].append(float(seconds))

    def summary(self) -> dict[str, dict[str, float]]:
        """stage -> {count, mean_ms, p50_ms, p95_ms, max_ms}."""
        with self._lock:
            copies = {stage: list(samples) for stage, samples in self._samples.items()}
        out = {}
        for stage, samples in copies.items():
            values = np.asarray(samples) * 1e3
            out[stage] = {
                "count": float(len(values)),
                "mean_ms": float(values.mean()),
                "p50_ms": float(np.percentile(values, 50)),
                "p95_ms": float(np.percentile(values, 95)),
                "max_ms": float(values.max()),
            }
        return out


def format_summary(summary: dict[str, dict[str, float]]) -> str:
    """A `LatencyStats.summary` as aligned text lines."""
    head = ("stage", "count", "mean ms", "p50 ms", "p95 ms", "max ms")
    lines = [f"{head[0]:<14}" + "".join(f"{h:>10}" for h in head[1:])]
    for stage, s in summary.items():
        lines.append(
            f"{stage:<14}{int(s['count']):>10}{s['mean_ms']:>10.1f}{s['p50_ms']:>10.1f}"
            f"{s['p95_ms']:>10.1f}{s['max_ms']:>10.1f}"
        )
    return "\n".join(lines)
