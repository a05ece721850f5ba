"""The semantic branch: what each voxel is.

    LiDAR voxels ─► VFE ─► sparse UNet ─► 3D semantic head (per LiDAR voxel)
                              └► sparse pyramid (full, ..., fusion resolution) ─┐
    images ─► image UNet ─► 2D head; features lifted to the fusion voxels ──────┴► S

Its 3D head learns from the voxel labels and the lifted pseudo labels, its 2D head from the 2D
pseudo labels of the foundation models (the distillation of docs/network.md).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from spconv.pytorch import SparseConvTensor
from torch import nn

from occle_core.model.backbones_2d.image_unet import ImageUNet
from occle_core.model.backbones_3d.encoder import SparsePyramid, to_dense
from occle_core.model.backbones_3d.unet import SparseUNet
from occle_core.model.backbones_3d.voxel_encoder import VoxelBatch, VoxelFeatureEncoder
from occle_core.model.config import OccLEConfig
from occle_core.model.fusion.lifting import ImageLifter, VoxelPixelMap
from occle_core.model.heads.class_heads import SparseVoxelHead


@dataclass
class SemanticFeatures:
    """What the semantic branch hands to the fusion, the decoder and the losses.

    Attributes:
        grid: (B, C, x, y, z) the semantic grid S on the fusion grid (C = fusion channels).
        levels: sparse features of every pyramid level, finest first (the decoder's skips).
        voxel_logits: (V, M) 3D semantic logits, row i for voxel i of the input voxels.
        image_logits: (B, N, M, H / s, W / s) 2D semantic logits (s = the image out_stride).
        seen: (B, x, y, z) bool, fusion voxels that project into at least one camera.
    """

    grid: torch.Tensor
    levels: list[SparseConvTensor]
    voxel_logits: torch.Tensor
    image_logits: torch.Tensor
    seen: torch.Tensor


class _SemanticGridFusion(nn.Module):
    """Densified LiDAR features + lifted image features -> the semantic grid S."""

    def __init__(self, lidar_channels: int, image_channels: int, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv3d(lidar_channels + image_channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm3d(channels),
            nn.ReLU(inplace=True),
        )

    def forward(self, lidar: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        return self.body(torch.cat([lidar, image], dim=1))


class SemanticBranch(nn.Module):
    """The semantic branch of `config.semantic` (`SemanticBranchConfig`).

    Args:
        config: the whole network's configuration (classes, levels, fusion width).
    """

    def __init__(self, config: OccLEConfig):
        super().__init__()
        self.config = config
        levels, vfe = config.level_channels, config.lidar.vfe_channels
        image = dataclasses.replace(config.semantic.image.unet, num_classes=config.num_classes)
        # Built in this order: a seeded build_model draws the same initial weights as before
        # the branches became modules.
        self.vfe = VoxelFeatureEncoder(vfe)
        self.unet = SparseUNet(vfe[-1], config.semantic.unet_channels, key_prefix="sem")
        self.head = SparseVoxelHead(self.unet.out_channels, config.num_classes)
        self.pyramid = SparsePyramid(
            self.unet.out_channels, levels, config.strides, key_prefix="sem_pyr"
        )
        self.image = ImageUNet(image)
        self.lifter = ImageLifter(image.out_channels)
        self.fuse = _SemanticGridFusion(levels[-1], image.out_channels, config.fusion.channels)

    def forward(
        self, voxels: VoxelBatch, images: torch.Tensor, pixel_map: VoxelPixelMap
    ) -> SemanticFeatures:
        """Args:
        voxels: the LiDAR voxels of the B frames on the output grid.
        images: (B, N, 3, H, W) normalised images.
        pixel_map: projections of the fusion voxel centres into the N cameras.
        """
        batch, cameras = images.shape[:2]
        coarse = self.config.level_shapes()[-1]
        # Sparse 3D parts in fp32 even under autocast: spconv's CPU build has no bf16 kernels,
        # and they are a small share of the time.
        with torch.autocast(images.device.type, enabled=False):
            lidar = self.unet(self.vfe(voxels).to_sparse_tensor())
            voxel_logits = self.head(lidar.features)
            levels = self.pyramid(lidar)
        image = self.image(images.flatten(0, 1))
        lifted, seen = self.lifter(image.features.unflatten(0, (batch, cameras)), pixel_map)
        grid = self.fuse(to_dense(levels[-1]), lifted.reshape(batch, -1, *coarse))
        assert image.logits is not None  # the semantic image network always has a head
        return SemanticFeatures(
            grid=grid,
            levels=levels,
            voxel_logits=voxel_logits,
            image_logits=image.logits.unflatten(0, (batch, cameras)),
            seen=seen.reshape(batch, *coarse),
        )
