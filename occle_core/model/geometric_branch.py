"""The geometric branch: which voxels are occupied.

    LiDAR voxels ─► VFE ─► sparse pyramid ─► BEV plane (height folded into channels) ─┐
    images ─► image UNet ─► lifted to the fusion voxels ─► frontal plane ────────────┴►
        cross-plane fusion ─► the geometric grid G and an occupancy logit per voxel

Its occupancy logits learn from the voxel labels and, semi-supervised, from the agreement of the
two planes (the cross-plane consistency of docs/network.md).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from spconv.pytorch import SparseConvTensor
from torch import nn

from occle_core.model.backbones_2d.image_unet import ImageUNet
from occle_core.model.backbones_3d.encoder import SparsePyramid, to_bev
from occle_core.model.backbones_3d.voxel_encoder import VoxelBatch, VoxelFeatureEncoder
from occle_core.model.config import OccLEConfig
from occle_core.model.fusion.cross_plane import CrossPlaneFusion
from occle_core.model.fusion.lifting import FrontalPlanePool, ImageLifter, VoxelPixelMap


@dataclass
class GeometricFeatures:
    """What the geometric branch hands to the fusion, the decoder and the losses.

    Attributes:
        grid: (B, C, x, y, z) the geometric grid G on the fusion grid (C = fusion channels).
        occupancy_logits: (B, 1, x, y, z) occupancy logit of every fusion voxel.
        levels: sparse features of every pyramid level, finest first (the decoder's skips).
    """

    grid: torch.Tensor
    occupancy_logits: torch.Tensor
    levels: list[SparseConvTensor]


class GeometricBranch(nn.Module):
    """The geometric branch of `config.geometric` (`GeometricBranchConfig`).

    Args:
        config: the whole network's configuration (levels, strides, fusion width).
    """

    def __init__(self, config: OccLEConfig):
        super().__init__()
        self.config = config
        levels, vfe = config.level_channels, config.lidar.vfe_channels
        image = dataclasses.replace(config.geometric.image.unet, num_classes=0)
        coarse_z = config.level_shapes()[-1][2]
        # Built in this order: a seeded build_model draws the same initial weights as before
        # the branches became modules.
        self.vfe = VoxelFeatureEncoder(vfe)
        self.pyramid = SparsePyramid(vfe[-1], levels, config.strides, key_prefix="geo")
        self.image = ImageUNet(image)
        # Voxels outside every camera get no weight in the frontal pool: nothing to learn there.
        self.lifter = ImageLifter(image.out_channels, learn_outside=False)
        self.frontal_pool = FrontalPlanePool(image.out_channels)
        self.cross_plane = CrossPlaneFusion(
            levels[-1] * coarse_z,
            image.out_channels,
            config.fusion.channels,
            config.geometric.refine_blocks,
        )

    def forward(
        self, voxels: VoxelBatch, images: torch.Tensor, pixel_map: VoxelPixelMap
    ) -> GeometricFeatures:
        """Args:
        voxels: the LiDAR voxels of the B frames on the output grid.
        images: (B, N, 3, H, W) normalised images.
        pixel_map: projections of the fusion voxel centres into the N cameras.
        """
        batch, cameras = images.shape[:2]
        coarse = self.config.level_shapes()[-1]
        with torch.autocast(images.device.type, enabled=False):  # spconv in fp32, as above
            levels = self.pyramid(self.vfe(voxels).to_sparse_tensor())
        features = self.image(images.flatten(0, 1)).features.unflatten(0, (batch, cameras))
        lifted, seen = self.lifter(features, pixel_map)
        frontal = self.frontal_pool(
            lifted.reshape(batch, -1, *coarse), seen.reshape(batch, *coarse)
        )
        planes = self.cross_plane(to_bev(levels[-1]), frontal)
        return GeometricFeatures(planes.features, planes.occupancy_logits, levels)
