"""The OccLE network: a short assembly of the parts in `occle_core.model`.

    LiDAR voxels ─► semantic VFE ─► sparse UNet ─► 3D semantic head (per LiDAR voxel)
                                        └► sparse pyramid (full, ..., fusion res) ─┐
    images ─► semantic image UNet ─► 2D head; features lifted to fusion voxels ────┴► S
    LiDAR voxels ─► geometric VFE ─► sparse pyramid ─► BEV plane ─┐
    images ─► geometric image UNet ─► lifted ─► frontal plane ─────┴► cross-plane ─► G, occupancy
    (S, G) ─► Dual Mamba ─► 1x1x1 merge ─► decoder (skips: both pyramids) ─► M-class logits

Everything runs at any grid shape and any number of cameras given by the config.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import nn

from occle_core.model.config import OccLEConfig
from occle_core.model.cross_plane import CrossPlaneFusion
from occle_core.model.decoder import VoxelDecoder
from occle_core.model.dual_mamba import DualMamba
from occle_core.model.heads import DenseClassHead, SparseVoxelHead
from occle_core.model.image import ImageUNet
from occle_core.model.inputs import OccLEInputs
from occle_core.model.lifting import FrontalPlanePool, ImageLifter
from occle_core.model.sparse.encoder import SparsePyramid, to_bev, to_dense
from occle_core.model.sparse.unet import SparseUNet
from occle_core.model.sparse.voxel_encoder import VoxelFeatureEncoder


@dataclass
class OccLEOutput:
    """Everything the losses and the predictions need.

    Attributes:
        logits: (B, M, X, Y, Z) final class logits on the output grid.
        occupancy_logits: (B, 1, x, y, z) geometric-branch occupancy logits on the fusion grid.
        voxel_logits: (V, M) 3D semantic head logits, row i for voxel i of the input voxels.
        image_logits: (B, N, M, H / s, W / s) 2D semantic logits (s = the image out_stride).
        seen: (B, x, y, z) bool, fusion voxels that project into at least one camera.
    """

    logits: torch.Tensor
    occupancy_logits: torch.Tensor
    voxel_logits: torch.Tensor
    image_logits: torch.Tensor
    seen: torch.Tensor

    def labels(self) -> torch.Tensor:
        """(B, X, Y, Z) int64 predicted class per voxel."""
        return self.logits.argmax(dim=1)


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


class OccLE(nn.Module):
    """The OccLE network.

    Args:
        config: the network shape (see `OccLEConfig`); build through `build_model`.
    """

    def __init__(self, config: OccLEConfig):
        super().__init__()
        self.config = config
        m, levels = config.num_classes, config.level_channels
        fusion_channels = config.fusion.channels
        vfe = config.lidar.vfe_channels

        sem_image = dataclasses.replace(config.semantic.image.unet, num_classes=m)
        geo_image = dataclasses.replace(config.geometric.image.unet, num_classes=0)
        self.semantic_vfe = VoxelFeatureEncoder(vfe)
        self.semantic_unet = SparseUNet(vfe[-1], config.semantic.unet_channels, key_prefix="sem")
        self.semantic_head = SparseVoxelHead(self.semantic_unet.out_channels, m)
        self.semantic_pyramid = SparsePyramid(
            self.semantic_unet.out_channels, levels, config.strides, key_prefix="sem_pyr"
        )
        self.semantic_image = ImageUNet(sem_image)
        self.semantic_lifter = ImageLifter(sem_image.out_channels)
        self.semantic_fuse = _SemanticGridFusion(
            levels[-1], sem_image.out_channels, fusion_channels
        )

        coarse_z = config.level_shapes()[-1][2]
        self.geometric_vfe = VoxelFeatureEncoder(vfe)
        self.geometric_pyramid = SparsePyramid(vfe[-1], levels, config.strides, key_prefix="geo")
        self.geometric_image = ImageUNet(geo_image)
        self.geometric_lifter = ImageLifter(geo_image.out_channels, learn_outside=False)
        self.frontal_pool = FrontalPlanePool(geo_image.out_channels)
        self.cross_plane = CrossPlaneFusion(
            levels[-1] * coarse_z,
            geo_image.out_channels,
            fusion_channels,
            config.geometric.refine_blocks,
        )

        self.dual_mamba = DualMamba(config.fusion)
        self.merge = nn.Sequential(
            nn.Conv3d(2 * fusion_channels, fusion_channels, 1, bias=False),
            nn.BatchNorm3d(fusion_channels),
            nn.ReLU(inplace=True),
        )
        skips = [2 * c for c in levels[:-1]]
        self.decoder = VoxelDecoder(fusion_channels, levels, skips, config.strides)
        self.head = DenseClassHead(self.decoder.out_channels, m)

    def forward(self, inputs: OccLEInputs) -> OccLEOutput:
        """Predict.

        Args:
            inputs: B frames prepared by `prepare_inputs` for this config.

        Returns:
            Logits of every head (see `OccLEOutput`).
        """
        config = self.config
        batch, cameras = inputs.images.shape[:2]
        if cameras != config.num_cameras:
            raise ValueError(
                f"OccLE {config.name!r}: {cameras} cameras in the input, config has "
                f"{config.num_cameras}"
            )
        if inputs.voxels.spatial_shape != config.grid.shape:
            raise ValueError(
                f"OccLE {config.name!r}: voxels on a {inputs.voxels.spatial_shape} grid, "
                f"config grid is {config.grid.shape}"
            )
        coarse = config.level_shapes()[-1]
        images = inputs.images.flatten(0, 1)

        # Sparse 3D parts in fp32 even under autocast: spconv's CPU build has no bf16 kernels,
        # and they are a small share of the time.
        with torch.autocast(inputs.images.device.type, enabled=False):
            sem_voxels = self.semantic_unet(self.semantic_vfe(inputs.voxels).to_sparse_tensor())
            voxel_logits = self.semantic_head(sem_voxels.features)
            sem_levels = self.semantic_pyramid(sem_voxels)
            geo_levels = self.geometric_pyramid(
                self.geometric_vfe(inputs.voxels).to_sparse_tensor()
            )

        # Semantic branch.
        sem_image = self.semantic_image(images)
        sem_lifted, seen = self.semantic_lifter(
            sem_image.features.unflatten(0, (batch, cameras)), inputs.pixel_map
        )
        seen = seen.reshape(batch, *coarse)
        semantic = self.semantic_fuse(
            to_dense(sem_levels[-1]), sem_lifted.reshape(batch, -1, *coarse)
        )

        # Geometric branch.
        geo_image = self.geometric_image(images).features.unflatten(0, (batch, cameras))
        geo_lifted, _ = self.geometric_lifter(geo_image, inputs.pixel_map)
        frontal = self.frontal_pool(geo_lifted.reshape(batch, -1, *coarse), seen)
        geometric = self.cross_plane(to_bev(geo_levels[-1]), frontal)

        # Fusion and decoding.
        semantic, fused_geometry = self.dual_mamba(semantic, geometric.features)
        merged = self.merge(torch.cat([semantic, fused_geometry], dim=1))
        skips = [
            torch.cat([to_dense(s), to_dense(g)], dim=1)
            for s, g in zip(sem_levels[:-1], geo_levels[:-1], strict=True)
        ]
        logits = self.head(self.decoder(merged, skips))
        assert sem_image.logits is not None  # the semantic image network always has a head
        return OccLEOutput(
            logits=logits,
            occupancy_logits=geometric.occupancy_logits,
            voxel_logits=voxel_logits,
            image_logits=sem_image.logits.unflatten(0, (batch, cameras)),
            seen=seen,
        )

    def parts(self) -> dict[str, nn.Module]:
        """The named parts, in data-flow order (for parameter counts and benchmarks)."""
        return dict(self.named_children())
