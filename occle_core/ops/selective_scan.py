"""Selective state-space scan (Mamba's S6) with mamba-ssm's semantics, and a CPU implementation.

For every batch element b, channel d and state index n the scan runs the linear recurrence

    delta = softplus(delta + delta_bias)            (bias and softplus optional)
    h[t]  = exp(delta[t] * A[d, n]) * h[t-1] + delta[t] * B[b, n, t] * u[t]     (h[-1] = 0)
    y[t]  = sum_n C[b, n, t] * h[t] + D[d] * u[t]   (D optional)
    out   = y * silu(z)                             (z optional)

exactly as mamba-ssm's ``selective_scan_fn`` does for a real A and input-dependent B and C.
`selective_scan` runs mamba-ssm's CUDA kernel when every tensor is on CUDA and mamba-ssm can be
imported, and `selective_scan_torch` otherwise, so one checkpoint gives the same results on a
GPU machine and on a CPU-only one.

`selective_scan_torch` is a `torch.autograd.Function` built for CPUs with few cores, where the
cost is memory traffic and the number of Python-level torch calls, not arithmetic:

* The sequence is cut into K chunks of T steps. A *group* of G consecutive chunks is processed at
  once in buffers of shape (T, G, batch, dim, d_state), so every sequential step is one torch call
  on G chunks side by side, and memory stays bounded by the group (about
  `DEFAULT_GROUP_ELEMENTS` floats per buffer) instead of growing with the whole
  (batch, dim, d_state, L) state sequence.
* Forward, per group (chunks in order): scan every chunk from a zero state (T steps), carry the
  true chunk start states across the G chunks (G small steps, using the chunk decay
  exp(A * sum(delta))), then scan the chunks again from their true start states (T steps) and
  contract with C. Rescanning is cheaper than adding a "decay times start state" correction,
  which would need a second exponential or twice the sequential calls.
* Only the chunk start states, (K + 1, batch, dim, d_state), are kept for the backward pass.
* Backward, per group (chunks in reverse order): recompute the states of the group from the saved
  start states, run the adjoint scan  lambda[t] = C[t] g[t] + exp(delta[t+1] A) lambda[t+1]
  backwards the same two-level way (local reverse scan, carry of the chunk end adjoints, reverse
  rescan), and reduce the gradients of u, delta, A, B and C from states and adjoints with batched
  tensor operations.

All arithmetic is float32 (float64 when an input is float64, which `gradcheck` needs), under
disabled autocast; the output has u's dtype and gradients have their inputs' dtypes.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any, Literal, overload

import torch
import torch.nn.functional as F

# Steps per chunk. Short chunks make the carry loop longer (K = L / T small steps) and the saved
# start states larger (1/T of all states), long chunks make more, narrower sequential steps per
# buffer. 16, 32 and 64 measured within noise of each other on 2 cores (L 4096..65536, dim 128
# and 256); 32 keeps the saved states at 1/32 of the full state sequence.
DEFAULT_CHUNK_LEN = 32
# Floats in one (T, G, batch, dim, d_state) group buffer: about 4 MiB in float32, so that the two
# or three buffers a pass touches stay in the last-level cache between its torch calls.
DEFAULT_GROUP_ELEMENTS = 1 << 20
# torch's softplus (and mamba-ssm's kernel) return x unchanged above this threshold.
_SOFTPLUS_THRESHOLD = 20.0
# dtypes mamba-ssm's kernel accepts for u (A, D and delta_bias are always float32 there).
_KERNEL_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


@functools.lru_cache(maxsize=1)
def _mamba_ssm_scan() -> Callable[..., Any] | None:
    """mamba-ssm's ``selective_scan_fn``, or None when mamba-ssm cannot be imported.

    Imported lazily: mamba-ssm loads its CUDA extension at import time, which fails (or takes
    seconds) on CPU-only machines that never need it.
    """
    try:
        from mamba_ssm.ops.selective_scan_interface import selective_scan_fn
    except Exception:  # ImportError, or OSError/RuntimeError from a broken CUDA extension
        return None
    return selective_scan_fn


def selective_scan_backend(tensor: torch.Tensor) -> str:
    """Which implementation `selective_scan` runs for inputs on `tensor`'s device.

    Args:
        tensor: any of the scan inputs (its device decides).

    Returns:
        ``"mamba_ssm"`` on CUDA when mamba-ssm is importable (float32/float16/bfloat16 u),
        ``"torch"`` otherwise.
    """
    if tensor.is_cuda and tensor.dtype in _KERNEL_DTYPES and _mamba_ssm_scan() is not None:
        return "mamba_ssm"
    return "torch"


@overload
def selective_scan(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None = ...,
    z: torch.Tensor | None = ...,
    delta_bias: torch.Tensor | None = ...,
    delta_softplus: bool = ...,
    return_last_state: Literal[False] = ...,
) -> torch.Tensor: ...


@overload
def selective_scan(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None = ...,
    z: torch.Tensor | None = ...,
    delta_bias: torch.Tensor | None = ...,
    delta_softplus: bool = ...,
    *,
    return_last_state: Literal[True],
) -> tuple[torch.Tensor, torch.Tensor]: ...


def selective_scan(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None = None,
    z: torch.Tensor | None = None,
    delta_bias: torch.Tensor | None = None,
    delta_softplus: bool = False,
    return_last_state: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Selective scan with the arguments and results of mamba-ssm's ``selective_scan_fn``.

    Dispatches to mamba-ssm's CUDA kernel when all tensors are on CUDA and mamba-ssm is
    importable (see `selective_scan_backend`), else to `selective_scan_torch`.

    Args:
        u: (batch, dim, L) input.
        delta: (batch, dim, L) step sizes (before `delta_bias` and softplus).
        A: (dim, d_state) real state matrix diagonal (negative for a stable scan).
        B: (batch, d_state, L) input-dependent input matrix.
        C: (batch, d_state, L) input-dependent output matrix.
        D: optional (dim,) skip connection weight.
        z: optional (batch, dim, L) gate; the output is multiplied by silu(z).
        delta_bias: optional (dim,) added to delta before the softplus.
        delta_softplus: apply softplus to delta (+ bias).
        return_last_state: also return the state after the last step.

    Returns:
        out (batch, dim, L) in u's dtype; with `return_last_state`, (out, last_state) where
        last_state is (batch, dim, d_state) in float32 (float64 for float64 inputs on the torch
        path). mamba-ssm does not backpropagate into last_state; `selective_scan_torch` does.
    """
    _check_shapes(u, delta, A, B, C, D, z, delta_bias)
    tensors = [t for t in (u, delta, A, B, C, D, z, delta_bias) if t is not None]
    if all(t.is_cuda for t in tensors) and selective_scan_backend(u) == "mamba_ssm":
        return _mamba_ssm_selective_scan(
            u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state
        )
    return selective_scan_torch(
        u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state
    )


def _mamba_ssm_selective_scan(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None,
    z: torch.Tensor | None,
    delta_bias: torch.Tensor | None,
    delta_softplus: bool,
    return_last_state: bool,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Calls mamba-ssm's kernel with the dtypes it requires (it rejects mixed dtypes that the
    torch path accepts): delta and z in u's dtype, A, D and delta_bias in float32, B and C in
    u's dtype unless float32."""
    fn = _mamba_ssm_scan()
    assert fn is not None
    dtype = u.dtype

    def weight(t: torch.Tensor) -> torch.Tensor:
        return t if t.dtype in (dtype, torch.float32) else t.to(dtype)

    # The kernel computes in float32 itself; autocast must not recast its arguments.
    with torch.autocast(device_type="cuda", enabled=False):
        result = fn(
            u,
            delta.to(dtype),
            A.float(),
            weight(B),
            weight(C),
            None if D is None else D.float(),
            z=None if z is None else z.to(dtype),
            delta_bias=None if delta_bias is None else delta_bias.float(),
            delta_softplus=delta_softplus,
            return_last_state=return_last_state,
        )
    return result


def selective_scan_torch(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None = None,
    z: torch.Tensor | None = None,
    delta_bias: torch.Tensor | None = None,
    delta_softplus: bool = False,
    return_last_state: bool = False,
    *,
    chunk_len: int | None = None,
    group_elements: int | None = None,
) -> Any:
    """Our chunked implementation of `selective_scan` (any device, no dispatch).

    Same arguments and results as `selective_scan`, plus:

    Args:
        chunk_len: steps per chunk T (default `DEFAULT_CHUNK_LEN`, at most L).
        group_elements: floats per group buffer (default `DEFAULT_GROUP_ELEMENTS`); the number
            of chunks processed side by side is about group_elements / (T * batch * dim * d_state).

    Returns:
        out (batch, dim, L), or (out, last_state (batch, dim, d_state)) with `return_last_state`.
    """
    _check_shapes(u, delta, A, B, C, D, z, delta_bias)
    for name, value in (("chunk_len", chunk_len), ("group_elements", group_elements)):
        if value is not None and value < 1:
            raise ValueError(f"selective_scan: {name} must be >= 1, got {value}")
    chunk = min(chunk_len or DEFAULT_CHUNK_LEN, max(u.shape[-1], 1))
    budget = group_elements or DEFAULT_GROUP_ELEMENTS
    with torch.autocast(device_type=u.device.type, enabled=False):
        out, last_state = _SelectiveScanFn.apply(
            u, delta, A, B, C, D, z, delta_bias, delta_softplus, chunk, budget
        )
    return (out, last_state) if return_last_state else out


def _check_shapes(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None,
    z: torch.Tensor | None,
    delta_bias: torch.Tensor | None,
) -> None:
    if u.dim() != 3:
        raise ValueError(f"selective_scan: u must be (batch, dim, L), got {tuple(u.shape)}")
    batch, dim, length = u.shape
    if A.dim() != 2 or A.shape[0] != dim or A.is_complex():
        raise ValueError(f"selective_scan: A must be real (dim={dim}, d_state), got {A.shape}")
    d_state = A.shape[1]
    expected = {
        "delta": (delta, (batch, dim, length)),
        "B": (B, (batch, d_state, length)),
        "C": (C, (batch, d_state, length)),
        "D": (D, (dim,)),
        "z": (z, (batch, dim, length)),
        "delta_bias": (delta_bias, (dim,)),
    }
    for name, (tensor, shape) in expected.items():
        if tensor is not None and tuple(tensor.shape) != shape:
            raise ValueError(
                f"selective_scan: {name} must have shape {shape}, got {tuple(tensor.shape)}"
            )


def _compute_dtype(tensors: Sequence[torch.Tensor | None]) -> torch.dtype:
    """float64 if any input is float64 (for gradcheck), else float32 (also for half inputs)."""
    if any(t is not None and t.dtype == torch.float64 for t in tensors):
        return torch.float64
    return torch.float32


def _chunk_view(x: torch.Tensor, chunk: int, n_chunks: int) -> torch.Tensor:
    """(batch, c, L) -> (T, K, batch, c) view, zero-padded to K * T steps (a copy only then).

    A strided view, not a contiguous copy: transposing (batch, dim, L) costs more than reading
    it with strides in the batched operations that consume it (their outputs are contiguous).
    Zero padding is harmless: delta = 0 gives exp(0 * A) = 1 and a zero input, so padded steps
    keep the state, and the padded outputs are dropped.
    """
    batch, channels, length = x.shape
    pad = n_chunks * chunk - length
    if pad:
        x = F.pad(x, (0, pad))
    return x.view(batch, channels, n_chunks, chunk).permute(3, 2, 0, 1)


def _chunk_output(like: torch.Tensor, channels: int, chunk: int, n_chunks: int) -> torch.Tensor:
    """Uninitialised (batch, c, K * T) tensor; write it through `_chunk_view`, read `[..., :L]`.

    Args:
        like: (K, batch, ...) tensor giving batch, dtype and device.
    """
    return like.new_empty((like.shape[1], channels, n_chunks * chunk))


def _contiguous_chunks(x: torch.Tensor, chunk: int, n_chunks: int) -> torch.Tensor:
    """(batch, d_state, L) -> contiguous (T, K, batch, d_state), for B and C: the products that
    read them broadcast them over dim, where strided reads are slow, and with only d_state
    channels they are cheap to copy."""
    return _chunk_view(x, chunk, n_chunks).contiguous()


def _group_size(chunk: int, state_elements: int, n_chunks: int, budget: int) -> int:
    """Chunks per group so that a (T, G, batch, dim, d_state) buffer holds about `budget`."""
    return max(1, min(n_chunks, budget // max(1, chunk * state_elements)))


def _contract_state(x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """sum_n x[..., d, n] * v[..., n]: (T, G, batch, dim, d_state), (T, G, batch, d_state) ->
    (T, G, batch, dim). `v` is made contiguous first: einsum's bmm falls back to one small
    matrix product per batch entry when the group slice of v is strided."""
    return torch.einsum("tgbdn,tgbn->tgbd", x, v.contiguous())


def _contract_dim(w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """sum_d w[..., d] * x[..., d, n]: (T, G, batch, dim), (T, G, batch, dim, d_state) ->
    (T, G, batch, d_state), with `w` made contiguous like in `_contract_state`."""
    return torch.einsum("tgbd,tgbdn->tgbn", w.contiguous(), x)


def _scan_steps(h: torch.Tensor, a: torch.Tensor) -> None:
    """In place along dim 0: h[t] += a[t] * h[t-1] for t = 1..T-1 (one torch call per step)."""
    hs, as_ = h.unbind(0), a.unbind(0)
    for t in range(1, len(hs)):
        hs[t].addcmul_(as_[t], hs[t - 1])


def _scan_steps_reverse(lam: torch.Tensor, a: torch.Tensor) -> None:
    """In place along dim 0: lam[t] += a[t+1] * lam[t+1] for t = T-2..0 (the adjoint scan)."""
    ls, as_ = lam.unbind(0), a.unbind(0)
    for t in range(len(ls) - 2, -1, -1):
        ls[t].addcmul_(as_[t + 1], ls[t + 1])


class _Chunked:
    """The scan inputs seen chunk by chunk, shared by the forward and backward passes.

    Attributes (T steps per chunk, K chunks; "(T, K, batch, ·)" are strided views of the
    (batch, ·, K * T) inputs, see `_chunk_view`):
        delta_c, du_c: (T, K, batch, dim) delta and delta * u.
        B_c, C_c: contiguous (T, K, batch, d_state).
        decay: (K, batch, dim, d_state) exp(A * sum of delta over the chunk), the factor a whole
            chunk applies to its start state.
    """

    def __init__(
        self,
        u: torch.Tensor,
        delta: torch.Tensor,
        A: torch.Tensor,
        B: torch.Tensor,
        C: torch.Tensor,
        chunk: int,
    ):
        self.length = u.shape[-1]
        self.chunk = chunk
        self.n_chunks = K = max(1, math.ceil(self.length / chunk))
        self.A = A
        self.delta_c = _chunk_view(delta, chunk, K)
        self.du_c = _chunk_view(delta * u, chunk, K)
        self.B_c = _contiguous_chunks(B, chunk, K)
        self.C_c = _contiguous_chunks(C, chunk, K)
        sums = self.delta_c.sum(0).contiguous()  # (K, batch, dim)
        self.decay = torch.exp(sums.unsqueeze(-1) * A)

    def decay_factors(self, k0: int, k1: int, out: torch.Tensor) -> torch.Tensor:
        """exp(delta[t] * A) of chunks k0..k1-1 into `out` (T, G, batch, dim, d_state)."""
        torch.mul(self.delta_c[:, k0:k1].unsqueeze(-1), self.A, out=out)
        return out.exp_()

    def scan_inputs(self, k0: int, k1: int, out: torch.Tensor) -> torch.Tensor:
        """delta[t] * u[t] * B[t] of chunks k0..k1-1 into `out` (T, G, batch, dim, d_state)."""
        return torch.mul(
            self.du_c[:, k0:k1].unsqueeze(-1), self.B_c[:, k0:k1].unsqueeze(-2), out=out
        )


def _forward_scan(chunks: _Chunked, budget: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Runs the scan; returns y = sum_n C h and the chunk start states.

    Returns:
        y: (batch, dim, L) without D and gate.
        states: (K + 1, batch, dim, d_state); states[k] enters chunk k, states[K] is the last
        state (padded steps keep it unchanged).
    """
    T, K = chunks.chunk, chunks.n_chunks
    batch, dim = chunks.delta_c.shape[2:]
    d_state = chunks.A.shape[1]
    group = _group_size(T, batch * dim * d_state, K, budget)
    like = chunks.decay
    a_buf = like.new_empty((T, group, batch, dim, d_state))
    h_buf = like.new_empty((T, group, batch, dim, d_state))
    states = like.new_empty((K + 1, batch, dim, d_state))
    states[0].zero_()
    y = _chunk_output(like, dim, T, K)
    y_c = _chunk_view(y, T, K)
    for k0 in range(0, K, group):
        k1 = min(K, k0 + group)
        a = chunks.decay_factors(k0, k1, a_buf[:, : k1 - k0])
        h = h_buf[:, : k1 - k0]
        if k1 - k0 > 1:
            # Local scans from zero give each chunk's own contribution to its end state; the
            # carry below turns them into the true start states of the following chunks.
            _scan_steps(chunks.scan_inputs(k0, k1, h), a)
            for j in range(k1 - k0 - 1):
                torch.addcmul(
                    h[T - 1, j], chunks.decay[k0 + j], states[k0 + j], out=states[k0 + j + 1]
                )
        chunks.scan_inputs(k0, k1, h)
        h[0].addcmul_(a[0], states[k0:k1])
        _scan_steps(h, a)
        states[k1].copy_(h[T - 1, k1 - k0 - 1])
        y_c[:, k0:k1] = _contract_state(h, chunks.C_c[:, k0:k1])
    return y[..., : chunks.length], states


def _backward_scan(
    chunks: _Chunked,
    states: torch.Tensor,
    g: torch.Tensor,
    d_last: torch.Tensor | None,
    budget: int,
    need_B: bool,
    need_C: bool,
    need_A: bool,
) -> tuple[
    torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None, torch.Tensor | None
]:
    """Gradients of the scan given dL/dy = g (batch, dim, L) and dL/d(last state).

    With the adjoint lambda[t] = dL/dh[t] (including the future through h[t+1]):
        dC[t, n] = sum_d g[t, d] h[t, d, n]
        s[t, d] = sum_n lambda[t, d, n] B[t, n];  du = delta s;  ddelta = u s + sum_n A q
        dB[t, n] = sum_d delta[t, d] u[t, d] lambda[t, d, n]
        q[t] = lambda[t] * exp(delta[t] A) * h[t-1];  dA = sum_t delta[t] q[t]

    Returns:
        s, ddelta_A: (batch, dim, L), s as above and the sum_n A q part of ddelta;
        dA (dim, d_state); dB, dC (batch, d_state, L); None when not needed.
    """
    T, K = chunks.chunk, chunks.n_chunks
    batch, dim = chunks.delta_c.shape[2:]
    d_state = chunks.A.shape[1]
    group = _group_size(T, batch * dim * d_state, K, budget)
    like = chunks.decay
    g_c = _chunk_view(g, T, K)
    a_buf = like.new_empty((T, group, batch, dim, d_state))
    h_buf = like.new_empty((T, group, batch, dim, d_state))
    lam_buf = like.new_empty((T, group, batch, dim, d_state))
    carry = like.new_empty((group, batch, dim, d_state))
    s = _chunk_output(like, dim, T, K)
    ddelta = _chunk_output(like, dim, T, K)
    s_c, ddelta_c = _chunk_view(s, T, K), _chunk_view(ddelta, T, K)
    dB = _chunk_output(like, d_state, T, K) if need_B else None
    dC = _chunk_output(like, d_state, T, K) if need_C else None
    dA = like.new_zeros((dim, d_state)) if need_A else None
    # Adjoint flowing into the last state of the current group's last chunk.
    mu = like.new_zeros((batch, dim, d_state)) if d_last is None else d_last.to(like.dtype)
    for k0 in reversed(range(0, K, group)):
        k1 = min(K, k0 + group)
        n = k1 - k0
        a = chunks.decay_factors(k0, k1, a_buf[:, :n])
        # States of the group, recomputed from the saved chunk start states.
        h = chunks.scan_inputs(k0, k1, h_buf[:, :n])
        h[0].addcmul_(a[0], states[k0:k1])
        _scan_steps(h, a)
        if dC is not None:
            _chunk_view(dC, T, K)[:, k0:k1] = _contract_dim(g_c[:, k0:k1], h)
        # Adjoint: lambda[t] = C[t] g[t] + a[t+1] lambda[t+1], two-level like the forward scan.
        lam = lam_buf[:, :n]
        g_in = g_c[:, k0:k1].unsqueeze(-1)
        C_in = chunks.C_c[:, k0:k1].unsqueeze(-2)
        carry[n - 1].copy_(mu)
        if n > 1:
            _scan_steps_reverse(torch.mul(g_in, C_in, out=lam), a)
            for j in range(n - 1, 0, -1):
                torch.mul(a[0, j], lam[0, j], out=carry[j - 1])
                carry[j - 1].addcmul_(chunks.decay[k0 + j], carry[j])
        torch.mul(g_in, C_in, out=lam)
        lam[T - 1].add_(carry[:n])
        _scan_steps_reverse(lam, a)
        mu = a[0, 0] * lam[0, 0]
        s_c[:, k0:k1] = _contract_state(lam, chunks.B_c[:, k0:k1])
        if dB is not None:
            _chunk_view(dB, T, K)[:, k0:k1] = _contract_dim(chunks.du_c[:, k0:k1], lam)
        # q = lambda * a * h[t-1] = dL/d(delta A), built in a's buffer.
        q = a.mul_(lam)
        q[1:].mul_(h[:-1])
        q[0].mul_(states[k0:k1])
        # (q * A).sum(-1) via lam's buffer: faster than einsum, which copies q for a bmm.
        ddelta_c[:, k0:k1] = torch.mul(q, chunks.A, out=lam).sum(-1)
        if dA is not None:
            dA += q.mul_(chunks.delta_c[:, k0:k1].unsqueeze(-1)).sum((0, 1, 2))
    L = chunks.length
    return (
        s[..., :L],
        ddelta[..., :L],
        dA,
        None if dB is None else dB[..., :L],
        None if dC is None else dC[..., :L],
    )


def _softplus_grad(x: torch.Tensor) -> torch.Tensor:
    """d softplus(x) / dx with torch's threshold (identity above 20)."""
    return torch.where(x > _SOFTPLUS_THRESHOLD, torch.ones_like(x), torch.sigmoid(x))


class _SelectiveScanFn(torch.autograd.Function):
    """Custom forward and backward of the chunked scan (see the module docstring)."""

    @staticmethod
    def forward(
        ctx: Any,
        u: torch.Tensor,
        delta: torch.Tensor,
        A: torch.Tensor,
        B: torch.Tensor,
        C: torch.Tensor,
        D: torch.Tensor | None,
        z: torch.Tensor | None,
        delta_bias: torch.Tensor | None,
        delta_softplus: bool,
        chunk: int,
        budget: int,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        dtype = _compute_dtype((u, delta, A, B, C, D, z, delta_bias))
        uf, Af = u.to(dtype), A.to(dtype)
        dt = _delta(delta.to(dtype), delta_bias, delta_softplus)
        chunks = _Chunked(uf, dt, Af, B.to(dtype), C.to(dtype), chunk)
        y, states = _forward_scan(chunks, budget)
        del chunks
        if D is not None:
            y.addcmul_(uf, D.to(dtype).unsqueeze(-1))
        out = y if z is None else y * F.silu(z.to(dtype))
        ctx.set_materialize_grads(False)
        ctx.delta_softplus = delta_softplus
        ctx.chunk, ctx.budget = chunk, budget
        ctx.has = (D is not None, z is not None, delta_bias is not None)
        # y (before the gate) is only needed for dz; everything else is recomputed.
        ctx.save_for_backward(
            u, delta, A, B, C, D, z, delta_bias, states, y if z is not None else None
        )
        last_state = states[-1].clone()
        return out.to(u.dtype), last_state

    @staticmethod
    def backward(
        ctx: Any, dout: torch.Tensor | None, d_last: torch.Tensor | None
    ) -> tuple[torch.Tensor | None, ...]:
        u, delta, A, B, C, D, z, delta_bias, states, y = ctx.saved_tensors
        dtype = states.dtype
        with torch.autocast(device_type=u.device.type, enabled=False):
            uf = u.to(dtype)
            if dout is None:
                dout = torch.zeros_like(uf)
            g = dout.to(dtype)
            dz = None
            if z is not None:
                zf = z.to(dtype)
                sig = torch.sigmoid(zf)
                # d silu(z)/dz = sigmoid(z) * (1 + z * (1 - sigmoid(z)))
                dz = g * y * sig * (1 + zf * (1 - sig))
                g = g * zf * sig
            raw = delta.to(dtype)
            if delta_bias is not None:
                raw = raw + delta_bias.to(dtype).unsqueeze(-1)
            dt = F.softplus(raw) if ctx.delta_softplus else raw
            chunks = _Chunked(uf, dt, A.to(dtype), B.to(dtype), C.to(dtype), ctx.chunk)
            need = ctx.needs_input_grad
            s, ddt, dA, dB, dC = _backward_scan(
                chunks, states, g, d_last, ctx.budget, need[3], need[4], need[2]
            )
            del chunks
            ddt.addcmul_(uf, s)
            du = s.mul_(dt)
            dD = None
            if D is not None:
                dD = (g * uf).sum((0, 2))
                du.addcmul_(g, D.to(dtype).unsqueeze(-1))
            if ctx.delta_softplus:
                ddt.mul_(_softplus_grad(raw))
            d_bias = None if delta_bias is None else ddt.sum((0, 2))
        return (
            _cast(du, u),
            _cast(ddt, delta),
            _cast(dA, A),
            _cast(dB, B),
            _cast(dC, C),
            _cast(dD, D),
            _cast(dz, z),
            _cast(d_bias, delta_bias),
            None,
            None,
            None,
        )


def _delta(delta: torch.Tensor, delta_bias: torch.Tensor | None, softplus: bool) -> torch.Tensor:
    """delta (+ bias) (softplus), in delta's dtype."""
    if delta_bias is not None:
        delta = delta + delta_bias.to(delta.dtype).unsqueeze(-1)
    return F.softplus(delta) if softplus else delta


def _cast(grad: torch.Tensor | None, like: torch.Tensor | None) -> torch.Tensor | None:
    """The gradient in its input's dtype, or None for absent inputs / unneeded gradients."""
    if grad is None or like is None:
        return None
    return grad.to(like.dtype)
