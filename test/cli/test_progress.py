"""The one progress display: a tqdm bar on a terminal, plain periodic lines elsewhere."""

from __future__ import annotations

import io

from occle_core.cli.progress import ProgressDisplay, sequence_progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_gets_plain_lines_not_carriage_returns():
    log = io.StringIO()
    display = ProgressDisplay("training", total=1000, unit="steps", stream=log, interval=3600)
    for step in range(1, 1001):
        display.update(step, f"loss {1 / step:.3f}")
    lines = log.getvalue().splitlines()
    # The first update and the end, nothing in between within the hour-long interval.
    assert lines == ["training: 1/1000 steps  loss 1.000", "training: 1000/1000 steps  loss 0.001"]
    assert "\r" not in log.getvalue()


def test_an_unfinished_job_says_where_it_stopped():
    log = io.StringIO()
    display = ProgressDisplay("bag-eval", unit="frames", stream=log, interval=3600)
    for frame in range(1, 8):
        display.update(frame)
    display.close()
    assert log.getvalue().splitlines() == ["bag-eval: 1 frames", "bag-eval: 7 frames"]


def test_a_terminal_gets_a_tqdm_bar():
    terminal = Terminal()
    display = ProgressDisplay("to-bag", total=10, unit="scans", stream=terminal)
    for done in range(1, 11):
        display.update(done)
    text = terminal.getvalue()
    assert "to-bag" in text and "10/10" in text and "100%" in text


def test_sequence_progress_closes_each_stage(monkeypatch):
    import occle_core.cli.progress as progress

    log = io.StringIO()
    original = progress.ProgressDisplay
    monkeypatch.setattr(
        progress, "ProgressDisplay", lambda label, total: original(label, total, stream=log)
    )
    report = sequence_progress("pseudo labels")
    for stage in ("images", "scans"):
        for done in range(1, 4):
            report("00", stage, done, 3)
    assert log.getvalue().splitlines() == [
        "pseudo labels 00 images: 1/3",
        "pseudo labels 00 images: 3/3",
        "pseudo labels 00 scans: 1/3",
        "pseudo labels 00 scans: 3/3",
    ]
