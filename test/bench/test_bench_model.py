"""`occle bench model` and its measurements, on a micro configuration."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
import yaml

from occle_core.bench import model as bench_model
from occle_core.bench.model import ModelCase, ModelResult, format_table
from occle_core.cli.main import main
from occle_core.geometry.grid import GridSpec
from occle_core.model.build import build_model
from occle_core.model.config import load_model_config
from occle_core.typed_config import to_mapping

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def micro_config_file(tmp_path: Path) -> Path:
    tiny = load_model_config(REPO / "config/models/occle_tiny.yaml")
    micro = dataclasses.replace(
        tiny,
        name="micro",
        grid=GridSpec.from_range((-6.4, -6.4, -1.0), (6.4, 6.4, 2.2), 0.8),
        image_size=(32, 48),
        fusion=dataclasses.replace(tiny.fusion, channels=8, orders=("xyz",)),
    )
    path = tmp_path / "micro.yaml"
    path.write_text(yaml.safe_dump(to_mapping(micro)))
    return path


def test_time_measurement_counts_every_part(micro_config_file: Path) -> None:
    case = ModelCase(str(micro_config_file), repeats=1, backward=True, scans=1)
    result = bench_model.measure_time(case)
    model = build_model(load_model_config(micro_config_file))
    assert result["params"] == {
        name: sum(p.numel() for p in part.parameters()) for name, part in model.parts().items()
    }
    assert sum(result["params"].values()) == sum(p.numel() for p in model.parameters())
    # Every part with work to do was timed (the geometric lifter has no parameters but runs).
    assert set(result["part_ms"]) == set(result["params"])
    assert all(ms > 0 for ms in result["part_ms"].values())
    assert result["forward_ms"] > 0 and result["train_step_ms"] > 0 and result["prepare_ms"] > 0
    # the mirrored decision is timed too (how it compares with one pass is the benchmark's
    # figure, not a test: two timings on a loaded machine can come out either way)
    assert result["predict_mirror_ms"] > 0
    assert result["source"] == "random" and result["cameras"] == 1
    assert result["grid"] == "16x16x4" and result["points"] == 30_000


def test_tiny_config_is_benchmarked_on_a_synthetic_street() -> None:
    config = load_model_config(REPO / "config/models/occle_tiny.yaml")
    frame, source = bench_model.benchmark_frame(config, scans=2)
    assert source == "synthetic tiny"
    assert frame.num_cameras == 1 and frame.images[0].shape == (94, 310, 3)
    inside = config.grid.points_to_indices(frame.xyz)[1]
    assert inside.sum() > 5_000  # two scans of the 32-beam tiny LiDAR in the grid box


def test_memory_measurement_in_a_worker(micro_config_file: Path) -> None:
    result = bench_model.run_case(ModelCase(str(micro_config_file), repeats=1, scans=1))
    assert result.note == ""
    assert result.forward_ms is not None and result.forward_peak_mib is not None
    assert result.train_step_ms is None  # not asked for


def test_cli_prints_tables_and_writes_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fake_run_case(case: ModelCase, timeout_s: float = 0) -> ModelResult:
        return ModelResult(
            case,
            name=Path(case.config).stem,
            grid="4x4x2",
            cameras=1,
            source="random",
            voxels=10,
            params={"dual_mamba": 1000, "decoder": 24},
            part_ms={"dual_mamba": 5.0, "decoder": 1.0},
            prepare_ms=2.0,
            forward_ms=7.0,
            predict_mirror_ms=19.0,
            forward_peak_mib=3.0,
        )

    monkeypatch.setattr(bench_model, "run_case", fake_run_case)
    configs = [tmp_path / "a.yaml", tmp_path / "b.yaml"]
    for path in configs:
        path.write_text("{}")
    out = tmp_path / "model.json"
    assert main(["bench", "model", "--config", *map(str, configs), "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert "total ms" in table and "dual_mamba" in table
    row = next(line for line in table.splitlines() if line.startswith("a "))
    assert row.split()[-7:-3] == ["2", "7", "9", "19"]  # prep, forward, total, mirrored
    results = json.loads(out.read_text())
    assert [r["total_ms"] for r in results] == [9.0, 9.0]
    assert results[0]["total_params"] == 1024


def test_cli_rejects_missing_configs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "model", "--config", str(tmp_path / "none.yaml")]) == 2
    assert "no such models config file" in capsys.readouterr().err


def test_format_table_shows_failures() -> None:
    table = format_table([ModelResult(ModelCase("x.yaml"), note="timed out after 5 s")])
    assert "x.yaml: timed out after 5 s" in table


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal without CUDA")
def test_cli_refuses_a_gpu_benchmark_without_cuda(capsys: pytest.CaptureFixture[str]) -> None:
    # A GPU benchmark that silently ran on the CPU would publish CPU figures as GPU ones.
    assert main(["bench", "model", "--config", "tiny", "--device", "cuda"]) == 2
    assert "CUDA is not available" in capsys.readouterr().err
