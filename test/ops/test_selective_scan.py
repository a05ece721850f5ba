"""The chunked selective scan against a float64 sequential reference, forward and backward."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pytest
import torch
import torch.nn.functional as F

from occle_core.ops import selective_scan, selective_scan_backend, selective_scan_torch
from occle_core.ops.selective_scan import DEFAULT_CHUNK_LEN

Inputs = dict[str, torch.Tensor | None]


def reference_scan(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None = None,
    z: torch.Tensor | None = None,
    delta_bias: torch.Tensor | None = None,
    delta_softplus: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """mamba-ssm's selective scan written as the plain recurrence, in float64; differentiable
    with torch.autograd. Returns (out (batch, dim, L), last state (batch, dim, d_state))."""
    u, delta, A, B, C = (t.double() for t in (u, delta, A, B, C))
    if delta_bias is not None:
        delta = delta + delta_bias.double()[:, None]
    if delta_softplus:
        delta = F.softplus(delta)
    batch, dim, length = u.shape
    h = u.new_zeros(batch, dim, A.shape[1])
    ys = []
    for t in range(length):
        decay = torch.exp(delta[:, :, t, None] * A)
        h = decay * h + (delta[:, :, t] * u[:, :, t])[..., None] * B[:, None, :, t]
        ys.append((h * C[:, None, :, t]).sum(-1))
    y = torch.stack(ys, dim=-1)
    if D is not None:
        y = y + D.double()[:, None] * u
    if z is not None:
        y = y * F.silu(z.double())
    return y, h


def make_inputs(
    batch: int = 2,
    dim: int = 4,
    d_state: int = 3,
    length: int = 37,
    *,
    seed: int = 0,
    delta_scale: float = 1.0,
    delta_offset: float = 0.0,
    with_D: bool = True,
    with_z: bool = True,
    with_bias: bool = True,
    dtype: torch.dtype = torch.float32,
) -> Inputs:
    gen = torch.Generator().manual_seed(seed)

    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=gen)

    delta = delta_offset + delta_scale * torch.rand(batch, dim, length, generator=gen)
    inputs: Inputs = {
        "u": randn(batch, dim, length),
        "delta": delta,
        # Negative like Mamba's A = -exp(A_log), spanning fast and slow decays.
        "A": -torch.exp(randn(dim, d_state)),
        "B": randn(batch, d_state, length),
        "C": randn(batch, d_state, length),
        "D": randn(dim) if with_D else None,
        "z": randn(batch, dim, length) if with_z else None,
        "delta_bias": 0.5 * randn(dim) if with_bias else None,
    }
    return {k: None if v is None else v.to(dtype).requires_grad_() for k, v in inputs.items()}


def tensors(inputs: Inputs) -> list[torch.Tensor]:
    return [v for v in inputs.values() if v is not None]


def assert_close_scaled(
    actual: torch.Tensor, expected: torch.Tensor, tol: float, what: str = ""
) -> None:
    """max |actual - expected| <= tol * max |expected|: round-off relative to the tensor's scale."""
    scale = max(expected.abs().max().item(), 1e-30)
    error = (actual.double() - expected).abs().max().item()
    assert error <= tol * scale, f"{what}: error {error:.3g} > {tol:g} * {scale:.3g}"


def check_against_reference(
    inputs: Inputs,
    softplus: bool,
    tol: float = 2e-5,
    last_state: bool = True,
    **kwargs: int,
) -> None:
    """Forward outputs and all input gradients of the scan equal the float64 reference."""
    out, last = selective_scan_torch(
        **inputs, delta_softplus=softplus, return_last_state=True, **kwargs
    )
    ref_out, ref_last = reference_scan(**inputs, delta_softplus=softplus)
    assert out.dtype == inputs["u"].dtype and out.shape == inputs["u"].shape
    assert last.shape == ref_last.shape
    assert_close_scaled(out, ref_out, tol, "out")
    assert_close_scaled(last, ref_last, tol, "last_state")

    gen = torch.Generator().manual_seed(1)
    grad_out = torch.randn(out.shape, generator=gen)
    grad_last = torch.randn(last.shape, generator=gen) if last_state else None
    loss = (out * grad_out).sum()
    ref_loss = (ref_out * grad_out.double()).sum()
    if grad_last is not None:
        loss = loss + (last * grad_last).sum()
        ref_loss = ref_loss + (ref_last * grad_last.double()).sum()
    names = [k for k, v in inputs.items() if v is not None]
    grads = torch.autograd.grad(loss, tensors(inputs))
    ref_grads = torch.autograd.grad(ref_loss, tensors(inputs))
    for name, grad, ref_grad, value in zip(names, grads, ref_grads, tensors(inputs), strict=True):
        assert grad.dtype == value.dtype and grad.shape == value.shape, name
        assert_close_scaled(grad, ref_grad, tol, f"d{name}")


@pytest.mark.parametrize(
    ("with_D", "with_z", "with_bias", "softplus"),
    list(itertools.product([False, True], repeat=4)),
)
def test_matches_reference_all_options(
    with_D: bool, with_z: bool, with_bias: bool, softplus: bool
) -> None:
    inputs = make_inputs(with_D=with_D, with_z=with_z, with_bias=with_bias)
    # chunk 8 over L = 37: 5 chunks, the last one padded; 2 chunks per group: 3 groups.
    check_against_reference(inputs, softplus, chunk_len=8, group_elements=8 * 2 * 2 * 4 * 3)


@pytest.mark.parametrize(
    ("chunk_len", "group_elements"),
    [(1, 1), (5, 1), (5, 10**9), (37, 10**9), (64, 10**9), (7, 7 * 3 * 24)],
)
def test_any_chunking_gives_the_same_result(chunk_len: int, group_elements: int) -> None:
    inputs = make_inputs(seed=3)
    check_against_reference(inputs, True, chunk_len=chunk_len, group_elements=group_elements)


def test_long_sequence_with_partial_chunk() -> None:
    length = 3000
    assert length % DEFAULT_CHUNK_LEN != 0
    inputs = make_inputs(batch=2, dim=3, d_state=2, length=length, seed=4, delta_scale=0.1)
    check_against_reference(inputs, True, tol=5e-5)
    # Several groups, the last one shorter.
    check_against_reference(inputs, True, tol=5e-5, chunk_len=64, group_elements=64 * 12 * 5)


def test_single_step() -> None:
    inputs = make_inputs(length=1, seed=5)
    check_against_reference(inputs, True)


@pytest.mark.parametrize(
    ("delta_scale", "delta_offset", "softplus"),
    [
        (1e-4, 0.0, False),  # tiny steps: decays ~1, long memory
        (1.0, 50.0, True),  # huge steps: softplus is the identity, decays underflow to 0
        (100.0, -50.0, True),  # both regimes mixed, across the softplus threshold
    ],
)
def test_extreme_step_sizes(delta_scale: float, delta_offset: float, softplus: bool) -> None:
    inputs = make_inputs(
        length=70,
        seed=6,
        delta_scale=delta_scale,
        delta_offset=delta_offset,
        with_bias=False,
    )
    check_against_reference(inputs, softplus, chunk_len=16, group_elements=16 * 2 * 2 * 12)


def test_without_last_state_gradient() -> None:
    inputs = make_inputs(seed=7)
    check_against_reference(inputs, True, last_state=False, chunk_len=8)


def test_only_last_state_used() -> None:
    inputs = make_inputs(seed=8)
    _, last = selective_scan_torch(**inputs, delta_softplus=True, return_last_state=True)
    _, ref_last = reference_scan(**inputs, delta_softplus=True)
    grads = torch.autograd.grad(last.sum(), tensors(inputs), allow_unused=True)
    ref_grads = torch.autograd.grad(ref_last.sum(), tensors(inputs), allow_unused=True)
    for grad, ref_grad in zip(grads, ref_grads, strict=True):
        if ref_grad is None:  # z and D do not reach the state
            assert grad is None or torch.count_nonzero(grad) == 0
        else:
            assert_close_scaled(grad, ref_grad, 2e-5)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_inputs_return_their_dtype(dtype: torch.dtype) -> None:
    inputs = make_inputs(seed=9, dtype=dtype)
    out, last = selective_scan(**inputs, delta_softplus=True, return_last_state=True)
    assert out.dtype == dtype
    assert last.dtype == torch.float32  # like mamba-ssm's float32 scan state
    ref_out, _ = reference_scan(**inputs, delta_softplus=True)
    # Inputs are already rounded to half; only the output rounding differs from float64.
    assert_close_scaled(out, ref_out, 1e-2)
    grads = torch.autograd.grad(out.float().sum(), tensors(inputs))
    for grad in grads:
        assert grad.dtype == dtype and torch.isfinite(grad).all()


def test_autocast_does_not_lower_the_scan_precision() -> None:
    inputs = make_inputs(seed=10)
    expected = selective_scan(**inputs, delta_softplus=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = selective_scan(**inputs, delta_softplus=True)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, expected, rtol=0, atol=0)


def test_gradcheck_float64() -> None:
    inputs = make_inputs(batch=2, dim=2, d_state=2, length=7, seed=11, dtype=torch.float64)
    names = [k for k, v in inputs.items() if v is not None]

    def fn(*args: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        kwargs = dict(zip(names, args, strict=True))
        out, last = selective_scan_torch(
            **kwargs,
            delta_softplus=True,
            return_last_state=True,
            chunk_len=3,
            group_elements=3 * 2 * 2 * 2,  # one chunk per group: 3 groups
        )
        return out, last

    assert torch.autograd.gradcheck(fn, tuple(tensors(inputs)), eps=1e-6, atol=1e-6)

    def fn_grouped(*args: torch.Tensor) -> torch.Tensor:
        kwargs = dict(zip(names, args, strict=True))
        out: torch.Tensor = selective_scan_torch(**kwargs, chunk_len=2, group_elements=10**6)
        return out

    assert torch.autograd.gradcheck(fn_grouped, tuple(tensors(inputs)), eps=1e-6, atol=1e-6)


def test_deterministic() -> None:
    inputs = make_inputs(batch=2, dim=8, d_state=4, length=300, seed=12)

    def run() -> list[torch.Tensor]:
        out = selective_scan(**inputs, delta_softplus=True)
        return [out, *torch.autograd.grad(out.square().sum(), tensors(inputs))]

    for first, second in zip(run(), run(), strict=True):
        assert torch.equal(first, second)


def test_non_contiguous_inputs() -> None:
    inputs = {k: None if v is None else v.detach() for k, v in make_inputs(seed=13).items()}
    # (batch, L, ·) memory read as (batch, ·, L), which is what Mamba's projections give.
    strided = {
        k: v.transpose(-1, -2).contiguous().transpose(-1, -2)
        if v is not None and v.dim() == 3
        else v
        for k, v in inputs.items()
    }
    assert strided["u"] is not None and not strided["u"].is_contiguous()
    expected = selective_scan(**inputs, delta_softplus=True)
    assert torch.isfinite(expected).all()
    torch.testing.assert_close(selective_scan(**strided, delta_softplus=True), expected)


def test_backend_on_cpu_is_torch() -> None:
    inputs = make_inputs(seed=14)
    assert selective_scan_backend(torch.zeros(1)) == "torch"
    torch.testing.assert_close(
        selective_scan(**inputs), selective_scan_torch(**inputs), rtol=0, atol=0
    )


def kernel_available() -> bool:
    if not torch.cuda.is_available():
        return False
    return selective_scan_backend(torch.zeros(1, device="cuda")) == "mamba_ssm"


@pytest.mark.skipif(not kernel_available(), reason="needs CUDA and mamba-ssm")
def test_mamba_ssm_kernel_matches_torch_path() -> None:  # pragma: no cover - GPU machines only
    inputs = make_inputs(batch=2, dim=16, d_state=16, length=500, seed=15)
    cuda = {k: None if v is None else v.detach().cuda().requires_grad_() for k, v in inputs.items()}
    out, last = selective_scan(**cuda, delta_softplus=True, return_last_state=True)
    ref, ref_last = selective_scan_torch(**cuda, delta_softplus=True, return_last_state=True)
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(last, ref_last, rtol=1e-4, atol=1e-4)
    grads = torch.autograd.grad(out.sum(), tensors(cuda))
    ref_grads = torch.autograd.grad(ref.sum(), tensors(cuda))
    for grad, ref_grad in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(grad, ref_grad, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize(
    ("name", "shape"),
    [("delta", (2, 4, 36)), ("A", (5, 3)), ("B", (2, 3, 36)), ("D", (3,)), ("z", (2, 4, 1))],
)
def test_rejects_wrong_shapes(name: str, shape: Sequence[int]) -> None:
    inputs = make_inputs()
    inputs[name] = torch.zeros(shape)
    with pytest.raises(ValueError, match=name if name != "A" else "A must"):
        selective_scan(**inputs)
