"""The one progress display of every long job (synthesis, pseudo labels, training, inference,
bag writing and replay).

On a terminal it is a tqdm bar; otherwise (a log file, CI) it prints a plain line at most every
`interval` seconds and at the end, so that logs hold readable lines instead of carriage returns
piled up on one line.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from tqdm import tqdm


class ProgressDisplay:
    """Progress of one job.

    Args:
        label: what is progressing ("training", "to-bag").
        total: number of steps, if known.
        unit: what a step is ("frames").
        stream: where it goes (stderr).
        interval: seconds between the plain lines written when `stream` is not a terminal.
    """

    def __init__(
        self,
        label: str,
        total: int | None = None,
        unit: str = "",
        stream: TextIO | None = None,
        interval: float = 10.0,
    ):
        self.label, self.total, self.unit = label, total, unit
        self.stream = stream if stream is not None else sys.stderr
        self.interval = interval
        self.done = 0
        self._last_line = -float("inf")
        self._closed = False
        self._bar: Any = None
        if self.stream.isatty():
            self._bar = tqdm(
                total=total, desc=label, unit=f" {unit}" if unit else "it", file=self.stream
            )

    def update(self, done: int, note: str = "", total: int | None = None) -> None:
        """`done` steps finished (absolute), with a short `note` (loss, ETA, ...)."""
        if total is not None:
            self.total = total
        if self._bar is not None:
            if total is not None:
                self._bar.total = total
            self._bar.update(done - self.done)
            if note:
                self._bar.set_postfix_str(note, refresh=False)
        self.done = done
        finished = self.total is not None and done >= self.total
        now = time.monotonic()
        if self._bar is None and (finished or now - self._last_line >= self.interval):
            self._last_line = now
            self._line(note)
        if finished:
            self.close()

    def _line(self, note: str) -> None:
        of = f"/{self.total}" if self.total is not None else ""
        unit = f" {self.unit}" if self.unit else ""
        text = f"{self.label}: {self.done}{of}{unit}" + (f"  {note}" if note else "")
        print(text, file=self.stream, flush=True)

    def close(self, note: str = "") -> None:
        """End the display (a final line when it is not a terminal and the last one was not)."""
        if self._closed:
            return
        self._closed = True
        if self._bar is not None:
            self._bar.close()
        elif self.total is None or self.done < self.total:
            self._line(note)


def sequence_progress(label: str) -> Callable[[str, str, int, int], None]:
    """A callback `(sequence, stage, done, total)` showing one display per sequence and stage."""
    current: dict[tuple[str, str], ProgressDisplay] = {}

    def report(sequence: str, stage: str, done: int, total: int) -> None:
        key = (sequence, stage)
        if key not in current:
            for display in current.values():
                display.close()
            current.clear()
            current[key] = ProgressDisplay(f"{label} {sequence} {stage}", total)
        current[key].update(done, total=total)

    return report
