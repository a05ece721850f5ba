"""Inference off the callers' threads with a queue of one: only the newest frame waits."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

Item = TypeVar("Item")


class LatestOnlyWorker(Generic[Item]):
    """Runs `process` for the newest submitted item, on a thread of its own or on the thread
    that calls `run`.

    A new item replaces one that is still waiting (counted in `dropped`): with slow inference
    the node always works on the freshest data instead of a growing backlog. `process` must
    handle its own errors; one that escapes is passed to `on_error` and the worker goes on.

    Args:
        process: called with each item that gets its turn.
        on_error: called with any exception `process` raised.
        own_thread: start a thread that runs the loop; False = the owner calls `run` (the node
            runs inference on the process's main thread: see occle_ros.node).
    """

    def __init__(
        self,
        process: Callable[[Item], None],
        on_error: Callable[[BaseException], None] = lambda error: None,
        own_thread: bool = True,
    ):
        self._process = process
        self._on_error = on_error
        self._pending: Item | None = None
        self._has_pending = False
        self._stopped = False
        self._busy = False
        self._condition = threading.Condition()
        self.dropped = 0
        self.processed = 0
        self._thread: threading.Thread | None = None
        if own_thread:
            self._thread = threading.Thread(target=self.run, name="occle-inference", daemon=True)
            self._thread.start()

    def submit(self, item: Item) -> None:
        """Queue `item`, replacing one that has not started yet."""
        with self._condition:
            if self._has_pending:
                self.dropped += 1
            self._pending, self._has_pending = item, True
            self._condition.notify_all()

    def discard_pending(self) -> None:
        """Forget a waiting item (not counted as dropped); the running one finishes."""
        with self._condition:
            self._pending, self._has_pending = None, False
            self._condition.notify_all()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is pending or running; False on timeout."""
        with self._condition:
            return self._condition.wait_for(
                lambda: not self._has_pending and not self._busy, timeout
            )

    def stop(self, timeout: float | None = 5.0) -> None:
        """Stop after the running item (a waiting one is discarded); `run` returns."""
        with self._condition:
            self._stopped = True
            self._condition.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def run(self) -> None:
        """Process items until `stop` (what the worker's own thread runs)."""
        while True:
            with self._condition:
                self._condition.wait_for(lambda: self._has_pending or self._stopped)
                if self._stopped:
                    return
                item, self._pending, self._has_pending = self._pending, None, False
                self._busy = True
            try:
                self._process(item)  # type: ignore[arg-type]
            except Exception as error:  # the worker must outlive any bad frame
                self._on_error(error)
            finally:
                with self._condition:
                    self._busy = False
                    self.processed += 1
                    self._condition.notify_all()
