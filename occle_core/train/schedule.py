"""Learning-rate and ramp-up schedules."""

from __future__ import annotations

import math


def warmup_cosine(step: int, total: int, warmup: int, min_ratio: float = 0.0) -> float:
    """Learning-rate factor at optimiser step `step` (0-based) of `total`: linear warm-up over
    `warmup` steps, then cosine decay from 1 to `min_ratio`."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    return cosine_between(1.0, min_ratio, step - warmup, max(total - warmup, 1))


def sigmoid_rampup(step: int, ramp_steps: int) -> float:
    """The usual mean-teacher ramp exp(-5 (1 - t)^2), t = step / ramp_steps, 1 after the ramp."""
    if ramp_steps <= 0:
        return 1.0
    t = min(max(step / ramp_steps, 0.0), 1.0)
    return math.exp(-5.0 * (1.0 - t) ** 2)


def cosine_between(start: float, end: float, step: int, total: int) -> float:
    """A value that follows half a cosine from `start` at step 0 to `end` at step `total`
    (clamped outside), e.g. a loss weight that hands over to other terms as training goes on."""
    if total <= 0:
        return end
    progress = min(max(step / total, 0.0), 1.0)
    return end + (start - end) * 0.5 * (1.0 + math.cos(math.pi * progress))
