"""Sparse 3D UNet: per-voxel features in context, at the input resolution and active set.

Down path: at each level submanifold convolutions (which keep the active set, so features do
not smear into empty space), then a stride-2 sparse convolution to the next level. Up path: an
inverse convolution back onto the sites of the level above, concatenation with that level's
skip features, and submanifold convolutions. The output has exactly the input's indices, in the
input's order, so it lines up row for row with the voxels that went in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import nn

from occle_core.model.backbones_3d.blocks import (
    check_sparse_input,
    down_block,
    subm_block,
    up_block,
)

if TYPE_CHECKING:
    from spconv.pytorch import SparseConvTensor


class SparseUNet(nn.Module):
    """Sparse 3D UNet built from spconv submanifold, strided and inverse convolutions.

    Args:
        in_channels: C_in, feature channels of the input voxels.
        channels: feature channels per level, finest first; its length is the number of levels
            (each level halves the grid). One entry gives a plain submanifold network.
        blocks_per_level: submanifold conv blocks per level on the way down, and after the skip
            concatenation on the way up (the first of those maps 2C -> C).
        out_channels: when given, a final per-voxel linear layer (a 1x1x1 convolution) to this
            many channels, e.g. class logits; otherwise the output has channels[0] channels.
        key_prefix: prefix of the index-pair cache keys this network stores in the sparse
            tensor; give two networks run on the same tensor different prefixes.
    """

    def __init__(
        self,
        in_channels: int,
        channels: Sequence[int] = (16, 32, 64),
        blocks_per_level: int = 1,
        out_channels: int | None = None,
        key_prefix: str = "unet",
    ) -> None:
        super().__init__()
        if not channels or any(c <= 0 for c in channels) or in_channels <= 0:
            raise ValueError(
                f"SparseUNet: in_channels={in_channels}, channels={tuple(channels)} must be "
                "positive and channels non-empty"
            )
        if blocks_per_level < 1:
            raise ValueError(f"SparseUNet: blocks_per_level={blocks_per_level}, expected >= 1")
        self.channels = tuple(int(c) for c in channels)
        levels = len(self.channels)

        def subm_key(level: int) -> str:
            return f"{key_prefix}_subm{level}"

        def down_key(level: int) -> str:
            return f"{key_prefix}_down{level}"

        self.stem = subm_block(in_channels, self.channels[0], subm_key(0))
        self.encoder_blocks = nn.ModuleList(
            nn.Sequential(*(subm_block(c, c, subm_key(level)) for _ in range(blocks_per_level)))
            for level, c in enumerate(self.channels)
        )
        self.down = nn.ModuleList(
            down_block(self.channels[level], self.channels[level + 1], 2, down_key(level))
            for level in range(levels - 1)
        )
        self.up = nn.ModuleList(
            up_block(self.channels[level + 1], self.channels[level], down_key(level))
            for level in range(levels - 1)
        )
        self.decoder_blocks = nn.ModuleList(
            nn.Sequential(
                *(
                    subm_block(2 * c if block == 0 else c, c, subm_key(level))
                    for block in range(blocks_per_level)
                )
            )
            for level, c in enumerate(self.channels[:-1])
        )
        self.head = nn.Linear(self.channels[0], out_channels) if out_channels else None
        self.out_channels = int(out_channels) if out_channels else self.channels[0]

    def forward(self, x: SparseConvTensor) -> SparseConvTensor:
        """Run the UNet.

        Args:
            x: sparse tensor with (N, 4) indices (batch, i, j, k) and (N, C_in) features.

        Returns:
            Sparse tensor with the same indices, order and spatial shape as `x` and
            (N, out_channels) features.
        """
        check_sparse_input(x, "SparseUNet")
        x = self.stem(x)
        skips = []
        for level, blocks in enumerate(self.encoder_blocks):
            x = blocks(x)
            if level < len(self.down):
                skips.append(x)
                x = self.down[level](x)
        for level in reversed(range(len(self.up))):
            x = self.up[level](x)
            skip = skips[level]
            if x.indices.shape[0] != skip.indices.shape[0]:
                raise RuntimeError(
                    f"SparseUNet level {level}: upsampled {x.indices.shape[0]} sites but the "
                    f"skip has {skip.indices.shape[0]}; index-pair cache keys collide?"
                )
            x = x.replace_feature(torch.cat([x.features, skip.features], dim=1))
            x = self.decoder_blocks[level](x)
        if self.head is not None:
            x = x.replace_feature(self.head(x.features))
        return x
