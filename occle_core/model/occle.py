"""The OccLE network: two branches, their fusion and the decoder, wired together.

    LiDAR voxels + images ─► SemanticBranch ─► S (+ 3D and 2D semantic logits)
                          └► GeometricBranch ─► G (+ occupancy logits)
    (S, G) ─► Dual Mamba ─► 1x1x1 merge ─► decoder (skips: both pyramids) ─► M-class logits

The parts live by role: `backbones_3d` (sparse voxel networks), `backbones_2d` (image UNet),
`fusion` (lifting, cross-plane, Dual Mamba), `heads` (decoder, class heads); the branches in
`semantic_branch` and `geometric_branch`. Everything runs at any grid shape and any number of
cameras given by the config.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from occle_core.model.backbones_3d.encoder import to_dense
from occle_core.model.config import OccLEConfig
from occle_core.model.fusion.dual_mamba import DualMamba
from occle_core.model.geometric_branch import GeometricBranch
from occle_core.model.heads.class_heads import DenseClassHead
from occle_core.model.heads.decoder import VoxelDecoder
from occle_core.model.inputs import OccLEInputs
from occle_core.model.prior import decide_labels, log_prior_from_counts
from occle_core.model.semantic_branch import SemanticBranch


@dataclass
class OccLEOutput:
    """Everything the losses and the predictions need.

    Attributes:
        logits: (B, M, X, Y, Z) final class logits on the output grid.
        occupancy_logits: (B, 1, x, y, z) geometric-branch occupancy logits on the fusion grid.
        voxel_logits: (V, M) 3D semantic head logits, row i for voxel i of the input voxels.
        image_logits: (B, N, M, H / s, W / s) 2D semantic logits (s = the image out_stride).
        seen: (B, x, y, z) bool, fusion voxels that project into at least one camera.
        empty_label: the empty (free) class.
        class_log_prior: (M,) log share of each class among the labelled training voxels
            (`occle_core.model.prior`; zeros: no prior known).
        prior_strength: how much of the log prior `labels` takes off (0: the plain argmax).
        decoded: (B, C, X, Y, Z) the decoder's features, the final head's input (None when
            not kept).
    """

    logits: torch.Tensor
    occupancy_logits: torch.Tensor
    voxel_logits: torch.Tensor
    image_logits: torch.Tensor
    seen: torch.Tensor
    empty_label: int = 0
    class_log_prior: torch.Tensor | None = None
    prior_strength: float = 0.0
    decoded: torch.Tensor | None = None

    def labels(
        self, prior_strength: float | None = None, occupied: torch.Tensor | None = None
    ) -> torch.Tensor:
        """(B, X, Y, Z) int64 predicted class per voxel: empty where the plain argmax says
        so (or outside `occupied`, (B, X, Y, Z) bool, when given), else the class with the
        prior correction (`decide_labels`) at the model's strength, or at `prior_strength`
        when given."""
        strength = self.prior_strength if prior_strength is None else prior_strength
        return decide_labels(
            self.logits, self.empty_label, self.class_log_prior, strength, occupied
        )


class OccLE(nn.Module):
    """The OccLE network.

    Args:
        config: the network shape (see `OccLEConfig`); build through `build_model`.
    """

    class_log_prior: torch.Tensor
    prior_strength: torch.Tensor

    def __init__(self, config: OccLEConfig):
        super().__init__()
        self.config = config
        channels, levels = config.fusion.channels, config.level_channels
        self.semantic = SemanticBranch(config)
        self.geometric = GeometricBranch(config)
        self.dual_mamba = DualMamba(config.fusion)
        self.merge = nn.Sequential(
            nn.Conv3d(2 * channels, channels, 1, bias=False),
            nn.BatchNorm3d(channels),
            nn.ReLU(inplace=True),
        )
        skips = [2 * c for c in levels[:-1]]  # both branches' pyramid levels, concatenated
        self.decoder = VoxelDecoder(channels, levels, skips, config.strides)
        self.head = DenseClassHead(self.decoder.out_channels, config.num_classes)
        # The decision's class-prior correction (`occle_core.model.prior`): buffers, so that
        # they travel in the checkpoint; zeros (the plain argmax) until a trainer sets them.
        self.register_buffer("class_log_prior", torch.zeros(config.num_classes))
        self.register_buffer("prior_strength", torch.zeros(()))

    def set_class_prior(self, counts: torch.Tensor) -> None:
        """Set the log prior of the decision from (M,) labelled voxel counts per class."""
        if counts.shape != (self.config.num_classes,):
            raise ValueError(
                f"OccLE.set_class_prior: counts of shape {tuple(counts.shape)}, expected "
                f"({self.config.num_classes},)"
            )
        prior = log_prior_from_counts(counts)
        self.class_log_prior.copy_(prior.to(self.class_log_prior.device))

    def set_prior_strength(self, strength: float) -> None:
        """How much of the log prior the decision takes off (0: the plain argmax)."""
        if not strength >= 0:
            raise ValueError(f"OccLE.set_prior_strength: strength {strength} must be >= 0")
        self.prior_strength.fill_(float(strength))

    def forward(self, inputs: OccLEInputs) -> OccLEOutput:
        """Predict.

        Args:
            inputs: B frames prepared by `prepare_inputs` for this config.

        Returns:
            Logits of every head (see `OccLEOutput`).
        """
        self._check(inputs)
        semantic = self.semantic(inputs.voxels, inputs.images, inputs.pixel_map)
        geometric = self.geometric(inputs.voxels, inputs.images, inputs.pixel_map)
        fused_semantic, fused_geometry = self.dual_mamba(semantic.grid, geometric.grid)
        merged = self.merge(torch.cat([fused_semantic, fused_geometry], dim=1))
        skips = [
            torch.cat([to_dense(s), to_dense(g)], dim=1)
            for s, g in zip(semantic.levels[:-1], geometric.levels[:-1], strict=True)
        ]
        decoded = self.decoder(merged, skips)
        return OccLEOutput(
            logits=self.head(decoded),
            occupancy_logits=geometric.occupancy_logits,
            voxel_logits=semantic.voxel_logits,
            image_logits=semantic.image_logits,
            seen=semantic.seen,
            empty_label=self.config.empty_label,
            class_log_prior=self.class_log_prior,
            prior_strength=float(self.prior_strength),
            decoded=decoded,
        )

    def occupancy_logits(self, inputs: OccLEInputs) -> torch.Tensor:
        """Only the geometric branch: (B, 1, x, y, z) occupancy logits on the fusion grid, the
        same tensor as `forward(inputs).occupancy_logits` (no other part feeds it) at about a
        third of the cost; what the mean teacher's semi-supervised targets need."""
        self._check(inputs)
        return self.geometric(inputs.voxels, inputs.images, inputs.pixel_map).occupancy_logits

    def _check(self, inputs: OccLEInputs) -> None:
        config = self.config
        cameras = inputs.images.shape[1]
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

    def parts(self) -> dict[str, nn.Module]:
        """The named parts, in data-flow order, each branch's parts listed one by one as
        `semantic.vfe`, ... (for parameter counts and benchmarks)."""
        parts: dict[str, nn.Module] = {}
        for name, child in self.named_children():
            if isinstance(child, SemanticBranch | GeometricBranch):
                parts.update({f"{name}.{n}": c for n, c in child.named_children()})
            else:
                parts[name] = child
        return parts
