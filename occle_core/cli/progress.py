"""Progress line shared by the CLI commands that generate synthetic sequences."""

from __future__ import annotations

import sys
from collections.abc import Callable


def sequence_progress(label: str) -> Callable[[str, str, int, int], None]:
    """A callback printing "<label> XX: <stage> done/total" on one updating stderr line."""

    def report(sequence: str, stage: str, done: int, total: int) -> None:
        end = "\n" if done == total else ""
        print(
            f"\r  {label} {sequence}: {stage:<12} {done:4d}/{total}",
            end=end,
            file=sys.stderr,
            flush=True,
        )

    return report
