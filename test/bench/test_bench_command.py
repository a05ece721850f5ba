"""`occle bench scan` and the scan benchmark's measurements, on tiny sizes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from occle_core.bench import scan
from occle_core.bench.scan import ScanCase, ScanResult, format_table
from occle_core.cli.main import main


@pytest.mark.parametrize("method", ["occle", "loop"])
@pytest.mark.parametrize("backward", [False, True])
def test_measurements_in_process(method: str, backward: bool) -> None:
    case = ScanCase(method, length=64, dim=8, backward=backward, d_state=4, repeats=2)
    timing = scan.measure_time(case)
    assert timing["seconds"] > 0 and timing["runs"] == 2
    memory = scan.measure_memory(case)
    assert memory["peak_mib"] >= -1.0  # RSS can shrink by a few pages between readings


def test_worker_process_measures_a_case() -> None:
    result = scan.run_case(ScanCase("occle", length=64, dim=8, backward=True, d_state=4))
    assert result.note == ""
    assert result.seconds is not None and result.seconds > 0
    assert result.peak_mib is not None


def test_cli_prints_the_table_and_writes_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fake_run_case(case: ScanCase, timeout_s: float = 600.0) -> ScanResult:
        speed = {"occle": 1.0, "mambapy": 3.0, "loop": 10.0}[case.method]
        return ScanResult(case, seconds=speed * (2 if case.backward else 1) / 1000, peak_mib=5.0)

    monkeypatch.setattr(scan, "run_case", fake_run_case)
    # The comparison rows need mambapy (the `bench` extra), which CI does not install.
    monkeypatch.setattr(scan, "mambapy_available", lambda: True)
    out = tmp_path / "scan.json"
    argv = ["bench", "scan", "--lengths", "4096", "8192", "--dims", "8", "--json", str(out)]
    assert main(argv) == 0
    table = capsys.readouterr().out
    assert "mambapy" in table and "fwd+bwd ms" in table
    assert "fwd time x3.0" in table
    # The loop's backward is skipped beyond L = 4096 and says so.
    assert "L=8192 dim=8 loop fwd+bwd: skipped" in table
    results = json.loads(out.read_text())
    assert len(results) == 2 * 3 * 2
    skipped = [r for r in results if r["note"]]
    assert [(r["method"], r["length"], r["backward"]) for r in skipped] == [("loop", 8192, True)]


def test_format_table_shows_failures() -> None:
    case = ScanCase("mambapy", 16, 8, False)
    table = format_table([ScanResult(case, note="skipped: mambapy is not installed")])
    assert "L=16 dim=8 mambapy fwd: skipped: mambapy is not installed" in table


def test_cli_rejects_unknown_method() -> None:
    with pytest.raises(SystemExit):
        main(["bench", "scan", "--methods", "cuda"])
