"""Dual Mamba fusion: semantic and geometric voxel grids exchange information through
cross-gated bidirectional Mamba branches, over a scan order that changes per stage.

One stage, for the semantic grid S and the geometric grid G (and symmetrically for G):

    S <- S + Mamba_S(DWConv(LN(S) + sigmoid(W1 LN(G)) * W2 LN(G)))
    S <- S + FFN(LN(S))

where DWConv is a depthwise 3x3x3 convolution that keeps local context before serialisation
and Mamba_S is a bidirectional Mamba over the tokens in the stage's scan order. Both branches
read the grids as they were at the start of the stage.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from occle_core.model.fusion.mamba import BidirectionalMamba
from occle_core.model.fusion.serialization import SCAN_ORDERS, scan_permutation


@dataclass(frozen=True)
class DualMambaConfig:
    """Shape of the Dual Mamba fusion.

    Attributes:
        channels: token width (d_model).
        orders: scan order of each stage (one stage per entry).
        d_state: SSM state size.
        d_conv: causal conv width inside Mamba.
        expand: inner width factor of Mamba.
        ffn_ratio: hidden width of the FFN relative to `channels`.
    """

    channels: int = 128
    orders: tuple[str, ...] = SCAN_ORDERS
    d_state: int = 16
    d_conv: int = 4
    expand: int = 2
    ffn_ratio: int = 2


class _ChannelNorm(nn.Module):
    """LayerNorm over the channels of a (B, C, X, Y, Z) grid."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm = nn.LayerNorm(channels)

    def forward(self, grid: torch.Tensor) -> torch.Tensor:
        return self.norm(grid.movedim(1, -1)).movedim(-1, 1)


class _GatedBranch(nn.Module):
    """One direction of a stage: this grid's update, gated by the other grid."""

    def __init__(self, config: DualMambaConfig):
        super().__init__()
        c = config.channels
        self.norm_self = _ChannelNorm(c)
        self.norm_other = _ChannelNorm(c)
        self.gate = nn.Conv3d(c, c, 1)
        self.value = nn.Conv3d(c, c, 1)
        self.local = nn.Conv3d(c, c, 3, padding=1, groups=c)
        self.mamba = BidirectionalMamba(
            c, d_state=config.d_state, d_conv=config.d_conv, expand=config.expand
        )
        self.norm_ffn = _ChannelNorm(c)
        self.ffn = nn.Sequential(
            nn.Conv3d(c, c * config.ffn_ratio, 1), nn.GELU(), nn.Conv3d(c * config.ffn_ratio, c, 1)
        )

    def forward(self, own: torch.Tensor, other: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
        other_n = self.norm_other(other)
        x = self.norm_self(own) + torch.sigmoid(self.gate(other_n)) * self.value(other_n)
        x = self.local(x)
        batch, channels = x.shape[:2]
        tokens = x.flatten(2).transpose(1, 2)[:, perm]  # (B, L, C) in scan order
        mixed = self.mamba(tokens)
        restored = torch.empty_like(mixed)
        restored[:, perm] = mixed
        own = own + restored.transpose(1, 2).reshape(batch, channels, *x.shape[2:])
        return own + self.ffn(self.norm_ffn(own))


class DualMambaStage(nn.Module):
    """One stage: both branches updated in parallel from the stage's inputs."""

    def __init__(self, config: DualMambaConfig, order: str):
        super().__init__()
        self.order = order
        self.semantic = _GatedBranch(config)
        self.geometric = _GatedBranch(config)

    def forward(
        self, semantic: torch.Tensor, geometric: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        perm = scan_permutation(self.order, tuple(semantic.shape[2:]), semantic.device)  # type: ignore[arg-type]
        return (self.semantic(semantic, geometric, perm), self.geometric(geometric, semantic, perm))


class DualMamba(nn.Module):
    """Stages of cross-gated semantic/geometric Mamba fusion.

    Args:
        config: widths and scan orders.
    """

    def __init__(self, config: DualMambaConfig):
        super().__init__()
        unknown = [o for o in config.orders if o not in SCAN_ORDERS]
        if unknown:
            raise ValueError(f"DualMamba: unknown scan orders {unknown}; use {SCAN_ORDERS}")
        self.orders: tuple[str, ...] = tuple(config.orders)
        self.stages = nn.ModuleList(DualMambaStage(config, order) for order in config.orders)

    def forward(
        self, semantic: torch.Tensor, geometric: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Fuse the two grids.

        Args:
            semantic: (B, C, X, Y, Z) semantic features (1/4 resolution on SemanticKITTI).
            geometric: (B, C, X, Y, Z) geometric features, same shape.

        Returns:
            The updated (semantic, geometric) grids, same shapes.
        """
        if semantic.shape != geometric.shape:
            raise ValueError(
                f"DualMamba: grids differ, {tuple(semantic.shape)} vs {tuple(geometric.shape)}"
            )
        for stage in self.stages:
            semantic, geometric = stage(semantic, geometric)
        return semantic, geometric
