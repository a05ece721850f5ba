"""Mamba blocks: mamba-ssm's parameter layout and initialisation, forward semantics, causality."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from occle_core.model.fusion.mamba import BidirectionalMamba, Mamba

# mamba_ssm.modules.mamba_simple.Mamba(d_model=128) with default arguments: d_inner = 2 * 128,
# dt_rank = ceil(128 / 16) = 8, d_state = 16, d_conv = 4, no in/out projection biases. Order:
# the module's own parameters first, then the submodules in creation order (torch's rule).
EXPECTED_STATE_DICT_128 = [
    ("A_log", (256, 16)),
    ("D", (256,)),
    ("in_proj.weight", (512, 128)),
    ("conv1d.weight", (256, 1, 4)),
    ("conv1d.bias", (256,)),
    ("x_proj.weight", (40, 256)),
    ("dt_proj.weight", (256, 8)),
    ("dt_proj.bias", (256,)),
    ("out_proj.weight", (128, 256)),
]


def reference_forward(block: Mamba, x: torch.Tensor) -> torch.Tensor:
    """mamba_simple's slow path in float64 with the scan as an explicit per-step loop."""
    p = {k: v.detach().double() for k, v in block.state_dict().items()}
    x = x.double()
    length = x.shape[1]
    xz = (x @ p["in_proj.weight"].T).transpose(1, 2)
    u, z = xz.chunk(2, dim=1)
    u = F.conv1d(
        u, p["conv1d.weight"], p["conv1d.bias"], padding=block.d_conv - 1, groups=block.d_inner
    )
    u = F.silu(u[..., :length])
    x_dbl = u.transpose(1, 2) @ p["x_proj.weight"].T
    dt, B, C = torch.split(x_dbl, [block.dt_rank, block.d_state, block.d_state], dim=-1)
    delta = F.softplus(dt @ p["dt_proj.weight"].T + p["dt_proj.bias"])  # (batch, L, d_inner)
    A = -torch.exp(p["A_log"])
    h = x.new_zeros(x.shape[0], block.d_inner, block.d_state)
    ys = []
    for t in range(length):
        h = torch.exp(delta[:, t, :, None] * A) * h
        h = h + (delta[:, t] * u[:, :, t])[..., None] * B[:, t, None, :]
        ys.append((h * C[:, t, None, :]).sum(-1) + p["D"] * u[:, :, t])
    y = torch.stack(ys, dim=1) * F.silu(z.transpose(1, 2))
    return y @ p["out_proj.weight"].T


def test_state_dict_matches_mamba_ssm() -> None:
    block = Mamba(128)
    state = [(k, tuple(v.shape)) for k, v in block.state_dict().items()]
    assert state == EXPECTED_STATE_DICT_128
    assert block.A_log.dtype == torch.float32 and block.D.dtype == torch.float32


def test_bias_option_adds_projection_biases() -> None:
    keys = set(Mamba(32, bias=True).state_dict())
    assert {"in_proj.bias", "out_proj.bias"} <= keys
    assert "conv1d.bias" not in Mamba(32, conv_bias=False).state_dict()


def test_initialisation_like_mamba_ssm() -> None:
    torch.manual_seed(0)
    block = Mamba(64, d_state=8, dt_min=0.002, dt_max=0.05)
    expected_A_log = torch.log(torch.arange(1, 9, dtype=torch.float32)).expand(128, 8)
    torch.testing.assert_close(block.A_log.data, expected_A_log)
    torch.testing.assert_close(block.D.data, torch.ones(128))
    dt = F.softplus(block.dt_proj.bias.data)
    assert dt.min() >= 0.002 * (1 - 1e-4) and dt.max() <= 0.05 * (1 + 1e-4)
    std = block.dt_rank**-0.5
    assert block.dt_proj.weight.abs().max() <= std
    assert block.dt_rank == math.ceil(64 / 16)
    assert getattr(block.dt_proj.bias, "_no_reinit", False)
    assert getattr(block.A_log, "_no_weight_decay", False)


def test_forward_matches_slow_path_reference() -> None:
    torch.manual_seed(1)
    block = Mamba(16, d_state=4)
    x = torch.randn(2, 45, 16)
    out = block(x)
    assert out.shape == (2, 45, 16) and out.dtype == torch.float32
    expected = reference_forward(block, x)
    torch.testing.assert_close(out.double(), expected, rtol=1e-4, atol=1e-5)


def test_backward_reaches_every_parameter() -> None:
    torch.manual_seed(2)
    block = Mamba(32, bias=True)
    x = torch.randn(2, 70, 32, requires_grad=True)
    block(x).square().mean().backward()
    for name, param in block.named_parameters():
        assert param.grad is not None, name
        assert torch.isfinite(param.grad).all() and param.grad.abs().sum() > 0, name
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_causal() -> None:
    torch.manual_seed(3)
    block = Mamba(16, d_state=4).eval()
    x = torch.randn(1, 100, 16)
    changed = x.clone()
    changed[:, 60:] = torch.randn(1, 40, 16)
    with torch.no_grad():
        before, after = block(x), block(changed)
    torch.testing.assert_close(after[:, :60], before[:, :60], rtol=0, atol=1e-6)
    assert not torch.allclose(after[:, 60:], before[:, 60:])


def test_bfloat16_autocast() -> None:
    torch.manual_seed(4)
    block = Mamba(16, d_state=4)
    x = torch.randn(2, 33, 16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = block(x)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), block(x), rtol=0.1, atol=0.05)


def test_rejects_wrong_width() -> None:
    with pytest.raises(ValueError, match="expected"):
        Mamba(16)(torch.zeros(1, 5, 8))


def test_bidirectional_shape_and_both_directions() -> None:
    torch.manual_seed(5)
    block = BidirectionalMamba(16, d_state=4)
    keys = set(block.state_dict())
    assert "forward_mamba.A_log" in keys and "backward_mamba.A_log" in keys
    x = torch.randn(2, 40, 16, requires_grad=True)
    out = block(x)
    assert out.shape == x.shape
    # The first output token sees the last input token only through the backward branch, the
    # last output token sees the first input only through the forward branch.
    (grad_first,) = torch.autograd.grad(out[:, 0].sum(), x, retain_graph=True)
    (grad_last,) = torch.autograd.grad(out[:, -1].sum(), x)
    assert grad_first[:, -1].abs().sum() > 0
    assert grad_last[:, 0].abs().sum() > 0
    with torch.no_grad():
        expected = block.forward_mamba(x) + block.backward_mamba(x.flip(1)).flip(1)
        torch.testing.assert_close(out, expected)
        # Each branch alone differs from the sum.
        assert not torch.allclose(out, block.forward_mamba(x))
        assert not torch.allclose(out, block.backward_mamba(x.flip(1)).flip(1))
