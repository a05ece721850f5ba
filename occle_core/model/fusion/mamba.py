"""Mamba (selective state-space) blocks, parameter-compatible with mamba-ssm.

`Mamba` has exactly the parameters (names, shapes, initialisation) of
``mamba_ssm.modules.mamba_simple.Mamba`` with its default arguments, and its forward computes
what mamba_simple's reference ("slow") path computes. The scan goes through
`occle_core.ops.selective_scan`, which runs mamba-ssm's CUDA kernel where available and our
chunked torch scan elsewhere, so a checkpoint trained on a GPU loads and runs on a CPU and back.

`BidirectionalMamba` runs one `Mamba` over the sequence and a second one over the reversed
sequence and sums the two outputs, so every output token sees the whole sequence.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from occle_core.ops.selective_scan import selective_scan


class Mamba(nn.Module):
    """Mamba block: in_proj -> causal depthwise conv + SiLU -> selective scan (gated) -> out_proj.

    Parameters (d_inner = expand * d_model, dt_rank = ceil(d_model / 16) for "auto"):
    ``in_proj.weight`` (2 d_inner, d_model), ``conv1d.weight`` (d_inner, 1, d_conv),
    ``conv1d.bias`` (d_inner,), ``x_proj.weight`` (dt_rank + 2 d_state, d_inner),
    ``dt_proj.weight`` (d_inner, dt_rank), ``dt_proj.bias`` (d_inner,), ``A_log``
    (d_inner, d_state), ``D`` (d_inner,), ``out_proj.weight`` (d_model, d_inner); plus
    ``in_proj.bias``/``out_proj.bias`` with `bias`.

    Args:
        d_model: token width.
        d_state: SSM state size per channel.
        d_conv: width of the causal depthwise convolution.
        expand: d_inner / d_model.
        dt_rank: rank of the step-size projection, or "auto" for ceil(d_model / 16).
        dt_min, dt_max: range of the initial step sizes softplus(dt_proj.bias) (log-uniform).
        dt_init: "random" (uniform) or "constant" initialisation of dt_proj.weight.
        dt_scale: scale of the dt_proj.weight initialisation.
        dt_init_floor: smallest initial step size.
        conv_bias: give conv1d a bias.
        bias: give in_proj and out_proj biases.
        device, dtype: factory arguments of the parameters; A_log and D stay float32 like in
            mamba-ssm (the scan needs them in float32).
    """

    def __init__(
        self,
        d_model: int,
        d_state: int = 16,
        d_conv: int = 4,
        expand: int = 2,
        dt_rank: int | str = "auto",
        dt_min: float = 0.001,
        dt_max: float = 0.1,
        dt_init: str = "random",
        dt_scale: float = 1.0,
        dt_init_floor: float = 1e-4,
        conv_bias: bool = True,
        bias: bool = False,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ):
        super().__init__()
        factory: dict[str, Any] = {"device": device, "dtype": dtype}
        self.d_model = d_model
        self.d_state = d_state
        self.d_conv = d_conv
        self.expand = expand
        self.d_inner = int(expand * d_model)
        if dt_rank == "auto":
            self.dt_rank = math.ceil(d_model / 16)
        elif isinstance(dt_rank, int):
            self.dt_rank = dt_rank
        else:
            raise ValueError(f"Mamba: dt_rank must be an int or 'auto', got {dt_rank!r}")
        if dt_init not in ("random", "constant"):
            raise ValueError(f"Mamba: dt_init must be 'random' or 'constant', got {dt_init!r}")

        # Modules are created in mamba_simple's order, so that the same seed draws the same
        # initial weights as mamba-ssm does.
        self.in_proj = nn.Linear(d_model, self.d_inner * 2, bias=bias, **factory)
        self.conv1d = nn.Conv1d(
            self.d_inner,
            self.d_inner,
            kernel_size=d_conv,
            groups=self.d_inner,
            padding=d_conv - 1,
            bias=conv_bias,
            **factory,
        )
        self.x_proj = nn.Linear(self.d_inner, self.dt_rank + 2 * d_state, bias=False, **factory)
        self.dt_proj = nn.Linear(self.dt_rank, self.d_inner, bias=True, **factory)

        # dt_proj.weight scaled to keep the variance of dt at initialisation.
        dt_init_std = self.dt_rank**-0.5 * dt_scale
        if dt_init == "constant":
            nn.init.constant_(self.dt_proj.weight, dt_init_std)
        else:
            nn.init.uniform_(self.dt_proj.weight, -dt_init_std, dt_init_std)
        # dt_proj.bias = softplus^-1(dt) with dt log-uniform in [dt_min, dt_max], so that the
        # initial step sizes softplus(bias) cover several time scales.
        dt = torch.exp(
            torch.rand(self.d_inner, **factory) * (math.log(dt_max) - math.log(dt_min))
            + math.log(dt_min)
        ).clamp(min=dt_init_floor)
        inv_dt = dt + torch.log(-torch.expm1(-dt))
        with torch.no_grad():
            self.dt_proj.bias.copy_(inv_dt)
        # mamba-ssm's model init re-initialises Linear biases unless marked so.
        setattr(self.dt_proj.bias, "_no_reinit", True)  # noqa: B010

        # S4D-real initialisation A[d, n] = -(n + 1), stored as log(-A) in float32.
        A = torch.arange(1, d_state + 1, dtype=torch.float32, device=device)
        self.A_log = nn.Parameter(torch.log(A).repeat(self.d_inner, 1).contiguous())
        setattr(self.A_log, "_no_weight_decay", True)  # noqa: B010
        self.D = nn.Parameter(torch.ones(self.d_inner, device=device))  # float32 skip weight
        setattr(self.D, "_no_weight_decay", True)  # noqa: B010

        self.out_proj = nn.Linear(self.d_inner, d_model, bias=bias, **factory)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """Mix the tokens causally (output t depends on inputs 0..t only).

        Args:
            hidden_states: (batch, L, d_model).

        Returns:
            (batch, L, d_model).
        """
        if hidden_states.dim() != 3 or hidden_states.shape[-1] != self.d_model:
            raise ValueError(
                f"Mamba: expected (batch, L, {self.d_model}), got {tuple(hidden_states.shape)}"
            )
        seqlen = hidden_states.shape[1]
        xz = self.in_proj(hidden_states).transpose(1, 2)  # (batch, 2 d_inner, L)
        x, z = xz.chunk(2, dim=1)
        # Causal: padding d_conv - 1 on both sides, keep the first L outputs.
        x = F.silu(self.conv1d(x)[..., :seqlen])  # (batch, d_inner, L)
        x_dbl = self.x_proj(x.transpose(1, 2))  # (batch, L, dt_rank + 2 d_state)
        dt, B, C = torch.split(x_dbl, [self.dt_rank, self.d_state, self.d_state], dim=-1)
        # The bias of dt_proj is added inside the scan (delta_bias), before its softplus.
        dt = F.linear(dt, self.dt_proj.weight).transpose(1, 2)  # (batch, d_inner, L)
        A = -torch.exp(self.A_log.float())  # (d_inner, d_state)
        y = selective_scan(
            x,
            dt,
            A,
            B.transpose(1, 2),
            C.transpose(1, 2),
            self.D.float(),
            z=z,
            delta_bias=self.dt_proj.bias.float(),
            delta_softplus=True,
        )
        return self.out_proj(y.transpose(1, 2))


class BidirectionalMamba(nn.Module):
    """Two independent `Mamba` blocks, one reading the sequence forwards and one backwards.

    out = forward_mamba(x) + flip(backward_mamba(flip(x))), flipping along L: output t of the
    first block sees tokens 0..t, of the second tokens t..L-1, so the sum sees all tokens. The
    blocks share no parameters; their state-dict keys are prefixed ``forward_mamba.`` and
    ``backward_mamba.``.

    Args:
        d_model: token width.
        **kwargs: the other arguments of `Mamba`, used for both blocks.
    """

    def __init__(self, d_model: int, **kwargs: Any):
        super().__init__()
        self.forward_mamba = Mamba(d_model, **kwargs)
        self.backward_mamba = Mamba(d_model, **kwargs)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """Mix the tokens in both directions.

        Args:
            hidden_states: (batch, L, d_model).

        Returns:
            (batch, L, d_model).
        """
        forward_out = self.forward_mamba(hidden_states)
        backward_out = self.backward_mamba(hidden_states.flip(1)).flip(1)
        return forward_out + backward_out
