"""The typed configuration of the OccLE network (`config/models/*.yaml`)."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from occle_core.config_files import find_config
from occle_core.geometry.grid import SEMANTICKITTI_GRID, GridSpec
from occle_core.model.backbones_2d.image_unet import ImageUNetConfig
from occle_core.model.fusion.dual_mamba import DualMambaConfig
from occle_core.typed_config import load_config

Triple = tuple[int, int, int]


@dataclass(frozen=True)
class LidarConfig:
    """LiDAR voxelisation and the VoxelNet-style voxel feature encoder.

    Attributes:
        max_points_per_voxel: T, points kept per voxel.
        vfe_channels: widths of the point layers of the voxel feature encoder.
    """

    max_points_per_voxel: int = 10
    vfe_channels: tuple[int, ...] = (32, 64)


@dataclass(frozen=True)
class ImageBranchConfig:
    """A 2D image encoder-decoder and where its weights come from.

    Attributes:
        unet: the network shape (`num_classes` is overwritten: the model's classes for the
            semantic branch, no head for the geometric branch).
        weights: local checkpoint to load (None: random initialisation; nothing is downloaded).
    """

    unet: ImageUNetConfig = field(default_factory=ImageUNetConfig)
    weights: str | None = None


@dataclass(frozen=True)
class SemanticBranchConfig:
    """Semantic branch: sparse 3D UNet on the LiDAR voxels, image UNet, lifting.

    Attributes:
        unet_channels: sparse UNet width per level (finest first).
        image: the semantic image network (its 2D head is trained on the 2D pseudo labels).
    """

    unet_channels: tuple[int, ...] = (16, 32, 64)
    image: ImageBranchConfig = field(default_factory=ImageBranchConfig)


@dataclass(frozen=True)
class GeometricBranchConfig:
    """Geometric branch: sparse encoder -> BEV plane, image -> frontal plane, cross-plane fusion.

    Attributes:
        image: the geometric image network (separate weights, no 2D head).
        refine_blocks: residual 3D blocks after the cross-plane fusion.
    """

    image: ImageBranchConfig = field(default_factory=ImageBranchConfig)
    refine_blocks: int = 2


@dataclass(frozen=True)
class OccLEConfig:
    """The whole network.

    Attributes:
        name: a label for logs and checkpoints.
        num_classes: M, output classes including the empty class.
        empty_label: index of the empty (free) class in the M logits.
        class_names: the name of each of the M classes, in logit order; they travel in every
            checkpoint (empty only in checkpoints written before they did, whose names
            `occle_core.model.checkpoint` restores from the class count).
        grid: the output voxel grid (in the reference frame of the input points and cameras).
        num_cameras: cameras per frame (1 on SemanticKITTI, 6 on nuScenes).
        image_size: (H, W) the images are resized to; divisible by 2**(levels - 1) of both
            image networks.
        level_channels: width of each resolution level of the sparse encoders and of the
            decoder, finest first (full resolution, then one entry per entry of `strides`).
        strides: per-axis stride from each level to the next; their product takes the full
            grid to the fusion grid (e.g. two (2, 2, 2) steps: 256x256x32 -> 64x64x8).
        lidar: voxelisation and voxel feature encoder.
        semantic: the semantic branch.
        geometric: the geometric branch.
        fusion: the Dual Mamba (its `channels` is the width of both fused grids).
    """

    name: str = "occle"
    num_classes: int = 20
    empty_label: int = 0
    class_names: tuple[str, ...] = ()
    grid: GridSpec = SEMANTICKITTI_GRID
    num_cameras: int = 1
    image_size: tuple[int, int] = (376, 1248)
    level_channels: tuple[int, ...] = (16, 32, 64)
    strides: tuple[Triple, ...] = ((2, 2, 2), (2, 2, 2))
    lidar: LidarConfig = field(default_factory=LidarConfig)
    semantic: SemanticBranchConfig = field(default_factory=SemanticBranchConfig)
    geometric: GeometricBranchConfig = field(default_factory=GeometricBranchConfig)
    fusion: DualMambaConfig = field(default_factory=DualMambaConfig)

    def __post_init__(self) -> None:
        if self.num_classes < 2 or not 0 <= self.empty_label < self.num_classes:
            raise ValueError(
                f"num_classes={self.num_classes}, empty_label={self.empty_label}: need at least "
                "2 classes and the empty label among them"
            )
        if self.class_names and len(self.class_names) != self.num_classes:
            raise ValueError(
                f"class_names lists {len(self.class_names)} names for {self.num_classes} classes"
            )
        if self.num_cameras < 1:
            raise ValueError(f"num_cameras={self.num_cameras}: the model needs a camera")
        if len(self.level_channels) != len(self.strides) + 1:
            raise ValueError(
                f"level_channels has {len(self.level_channels)} entries for "
                f"{len(self.strides)} strides, expected {len(self.strides) + 1}"
            )
        if any(s not in (1, 2, 3) for triple in self.strides for s in triple):
            raise ValueError(f"strides {self.strides}: every stride must be 1, 2 or 3")
        for name, branch in (
            ("semantic", self.semantic.image),
            ("geometric", self.geometric.image),
        ):
            multiple = 2 ** (branch.unet.levels - 1)
            if any(n % multiple for n in self.image_size):
                raise ValueError(
                    f"image_size {self.image_size} is not divisible by {multiple}, which the "
                    f"{name} image network ({branch.unet.levels} levels) needs"
                )

    @property
    def total_stride(self) -> Triple:
        """Per-axis factor from the output grid to the fusion grid."""
        return (
            math.prod(s[0] for s in self.strides),
            math.prod(s[1] for s in self.strides),
            math.prod(s[2] for s in self.strides),
        )

    def level_shapes(self) -> list[Triple]:
        """Array shape of every level, finest first (ceil division, as spconv does)."""
        shapes = [self.grid.shape]
        for triple in self.strides:
            prev = shapes[-1]
            shapes.append(
                (-(-prev[0] // triple[0]), -(-prev[1] // triple[1]), -(-prev[2] // triple[2]))
            )
        return shapes

    def fusion_grid(self) -> GridSpec:
        """The coarse grid of the fusion stage (voxel centres for lifting live here)."""
        grid = self.grid
        shape = self.level_shapes()[-1]
        stride_metric = [0, 0, 0]
        dims_metric = [0, 0, 0]
        for array_axis, metric_axis in enumerate(grid.permutation):
            stride_metric[metric_axis] = self.total_stride[array_axis]
            dims_metric[metric_axis] = shape[array_axis]
        return GridSpec(
            origin=grid.origin,
            voxel_size=tuple(v * s for v, s in zip(grid.voxel_size, stride_metric, strict=True)),  # type: ignore[arg-type]
            dims=tuple(dims_metric),  # type: ignore[arg-type]
            axis_order=grid.axis_order,
            frame_id=grid.frame_id,
        )


def resolve_model_config(name_or_path: str | os.PathLike[str]) -> Path:
    """A model config file path, or the name of a shipped one (``occle_tiny``,
    ``occle_semantickitti``, ``occle_occ3d``); see `occle_core.config_files`.

    Raises:
        FileNotFoundError: neither a file nor a shipped name; lists the shipped names.
    """
    return find_config("models", name_or_path)


def load_model_config(name_or_path: str | os.PathLike[str]) -> OccLEConfig:
    """Read a model configuration YAML (a path, or a shipped name, see `resolve_model_config`);
    errors name the file and the key."""
    return load_config(OccLEConfig, resolve_model_config(name_or_path))
