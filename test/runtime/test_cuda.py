"""The GPU paths: model forward and training on CUDA, checkpoints moving between CPU and GPU,
autocast, and the selective-scan dispatch against our own scan.

Marked `cuda` and skipped without an NVIDIA GPU (CI has none). `scripts/gpu_check.sh` runs
them on a GPU machine, with spconv for CUDA brought along (`scripts/gpu_bundle.sh`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from occle_core.bench.model import benchmark_frame
from occle_core.cli.main import main
from occle_core.data.synthetic.generate import SynthConfig, write_synthetic_dataset
from occle_core.model.build import build_model
from occle_core.model.checkpoint import load_checkpoint, save_checkpoint
from occle_core.model.config import load_model_config
from occle_core.ops.selective_scan import (
    selective_scan,
    selective_scan_backend,
    selective_scan_torch,
)
from occle_core.runtime import ModelRunner, resolve_device
from occle_core.train.config import load_train_config
from occle_core.train.trainer import Trainer
from occle_core.typed_config import to_mapping

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(
        not torch.cuda.is_available(), reason="needs an NVIDIA GPU (scripts/gpu_check.sh)"
    ),
]

CUDA = torch.device("cuda")


@pytest.fixture(autouse=True)
def full_fp32() -> Iterator[None]:
    """cuDNN convolutions default to TF32 (10-bit mantissa): off, so CPU and GPU compare in fp32."""
    before = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = before


@pytest.fixture(scope="module")
def tiny_frame():
    frame, _ = benchmark_frame(load_model_config("occle_tiny"), scans=3)
    return frame


def _agreement(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a == b).float().mean())


def test_the_device_policy_takes_the_gpu() -> None:
    assert resolve_device("auto").device.type == "cuda"
    assert resolve_device("cuda:0", "--device").device == torch.device("cuda:0")


def test_forward_on_cuda_matches_the_cpu(tiny_frame) -> None:
    model = build_model(load_model_config("occle_tiny"), seed=0)
    cpu = ModelRunner(model, torch.device("cpu"))
    on_cpu = cpu.forward(cpu.prepare(tiny_frame))
    gpu = ModelRunner(model, CUDA)
    inputs = gpu.prepare(tiny_frame)
    assert inputs.voxels.points.is_cuda and inputs.images.is_cuda
    on_gpu = gpu.forward(inputs)
    assert on_gpu.logits.is_cuda and torch.isfinite(on_gpu.logits).all()
    logits_cpu, logits_gpu = on_cpu.logits, on_gpu.logits.cpu()
    scale = float(logits_cpu.abs().max())
    # spconv's GPU kernels and torch's CUDA reductions sum in other orders than the CPU ones.
    assert float((logits_gpu - logits_cpu).abs().max()) < 1e-3 * scale + 1e-4
    assert _agreement(on_gpu.labels().cpu(), on_cpu.labels()) > 0.999


def test_bf16_autocast_agrees_with_fp32(tiny_frame) -> None:
    model = build_model(load_model_config("occle_tiny"), seed=0)
    full = ModelRunner(model, CUDA)
    inputs = full.prepare(tiny_frame)
    reference = full.forward(inputs)
    half = ModelRunner(model, CUDA, amp="bf16")
    autocast = half.forward(inputs)
    assert torch.isfinite(autocast.logits.float()).all()
    # bf16 keeps 8 bits of mantissa: most, not all, near-ties may flip.
    assert _agreement(autocast.labels(), reference.labels()) > 0.97
    prediction = half.predict(tiny_frame, confidence=True)
    assert prediction.labels.dtype == np.uint8 and prediction.confidence is not None


def test_a_checkpoint_moves_between_cpu_and_gpu(tmp_path: Path, tiny_frame) -> None:
    model = build_model(load_model_config("occle_tiny"), seed=1)
    save_checkpoint(tmp_path / "cpu.pt", model)
    on_gpu, _ = load_checkpoint(tmp_path / "cpu.pt", CUDA)
    assert all(p.is_cuda for p in on_gpu.parameters())
    save_checkpoint(tmp_path / "gpu.pt", on_gpu)
    back, _ = load_checkpoint(tmp_path / "gpu.pt", "cpu")
    for (name, before), after in zip(
        model.state_dict().items(), back.state_dict().values(), strict=True
    ):
        assert after.device.type == "cpu", name
        torch.testing.assert_close(after, before, rtol=0, atol=0, msg=name)
    runner = ModelRunner.from_checkpoint(tmp_path / "gpu.pt", device="cuda")
    assert runner.device.type == "cuda"
    assert runner.predict(tiny_frame).labels.shape == tuple(runner.config.grid.shape)
    runner.release_device_memory()


@pytest.fixture(scope="module")
def training_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synthetic")
    synth = SynthConfig(frames=6, seed=1, scale="tiny", window_after=4, previews=False)
    write_synthetic_dataset(root, [0, 1], synth)
    assert main(["pseudo-label", "--dataset", str(root), "--sequences", "0", "1"]) == 0
    return root


@pytest.mark.parametrize("amp", ["off", "bf16"])
def test_training_steps_on_cuda(training_dataset: Path, tmp_path: Path, amp: str) -> None:
    tiny = load_model_config("occle_tiny")
    micro = dataclasses.replace(tiny, name="micro", level_channels=(8, 8))
    model_file = tmp_path / "micro.yaml"
    model_file.write_text(yaml.safe_dump(to_mapping(micro)))
    config = load_train_config(
        None,
        [
            f"model={model_file}",
            f"data.root={training_dataset}",
            "data.train_sequences=['00']",
            "data.val_sequences=['01']",
            "budget.ratio=0.5",
            "max_steps=4",
            "log_every=1",
            "validate_every=4",
            "device=cuda",
            f"amp={amp}",
        ],
    )
    trainer = Trainer(config, tmp_path / "run", checkpoint_every=0)
    assert next(trainer.model.parameters()).is_cuda
    before = [p.detach().clone() for p in trainer.model.parameters()]
    result = trainer.fit()
    losses = [r for r in trainer.history if "total" in r]
    assert [r["step"] for r in losses] == [1, 2, 3, 4]
    assert all(np.isfinite(r["total"]) and r["total"] > 0 for r in losses)
    changed = [
        not torch.equal(a, b) for a, b in zip(before, trainer.model.parameters(), strict=True)
    ]
    assert sum(changed) > 0.9 * len(changed)
    # A checkpoint written on the GPU loads on a CPU-only machine.
    model, extra = load_checkpoint(result.best_checkpoint, "cpu")
    assert extra["train_config"]["device"] == "cuda"
    assert all(not p.is_cuda for p in model.parameters())


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_scan_dispatch_agrees_with_our_scan(dtype: torch.dtype) -> None:
    generator = torch.Generator().manual_seed(0)
    batch, dim, state, length = 2, 16, 8, 300

    def random(*shape: int, scale: float = 1.0) -> torch.Tensor:
        return torch.randn(*shape, generator=generator) * scale

    reference = {
        "u": random(batch, dim, length),
        "delta": random(batch, dim, length, scale=0.5),
        "A": -torch.rand(dim, state, generator=generator) - 0.1,
        "B": random(batch, state, length),
        "C": random(batch, state, length),
        "D": random(dim),
        "z": random(batch, dim, length),
        "delta_bias": random(dim, scale=0.1),
    }
    expected = selective_scan_torch(
        **{k: v.double() for k, v in reference.items()}, delta_softplus=True
    )
    on_gpu = {
        k: v.to(CUDA, dtype if k in ("u", "delta", "z", "B", "C") else torch.float32)
        for k, v in reference.items()
    }
    backend = selective_scan_backend(on_gpu["u"])
    try:
        import mamba_ssm  # noqa: F401

        assert backend == "mamba_ssm"
    except ImportError:
        assert backend == "torch"
    out = selective_scan(**on_gpu, delta_softplus=True)
    assert out.is_cuda and out.dtype == dtype
    tolerance = 1e-4 if dtype == torch.float32 else 5e-2
    torch.testing.assert_close(
        out.double().cpu(), expected, rtol=tolerance, atol=tolerance * float(expected.abs().max())
    )
    # Gradients flow on the GPU path as on the CPU one.
    leaf = on_gpu["u"].clone().requires_grad_(True)
    selective_scan(**{**on_gpu, "u": leaf}, delta_softplus=True).float().sum().backward()
    assert leaf.grad is not None and torch.isfinite(leaf.grad.float()).all()
