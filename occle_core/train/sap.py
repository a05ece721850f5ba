"""Scatter-accumulated projection (SAP): supervise voxels without voxel labels through the 2D
pseudo labels of the images.

For every voxel v with class probabilities P_v (class 0 = empty):
occupancy o_v = 1 - P_v[0], class distribution q_v = P_v[1:] / o_v. Voxel centres are
projected into the image once per calibration (`SapProjection`). On each pixel the voxels that
land on it are ordered front to back and composited like a volume render: voxel v contributes
w_v = o_v * prod_{u in front of v} (1 - o_u). The pixel's class distribution is
sum_v w_v q_v / sum_v w_v, compared by cross-entropy with the 2D pseudo label where the label
is known (not 255) and enough weight accumulated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray

from occle_core.geometry.camera import CameraModel, project_points

IGNORE = 255
_EPS = 1e-6


@dataclass(frozen=True)
class SapProjection:
    """Where the voxels of a grid land in one camera, sorted front to back per pixel.

    Attributes:
        voxel: (K,) int64 flat voxel index of every projected voxel, grouped by pixel and ordered
            by increasing depth inside each group.
        pixel: (K,) int64 flat pixel index (row * width + column) on the SAP pixel grid.
        group_start: (K,) int64 position in these arrays where each entry's pixel group starts.
        height: SAP pixel grid height.
        width: SAP pixel grid width.
    """

    voxel: torch.Tensor
    pixel: torch.Tensor
    group_start: torch.Tensor
    height: int
    width: int

    @classmethod
    def build(
        cls,
        voxel_centers: NDArray[np.floating],
        camera: CameraModel,
        stride: int = 1,
        min_depth: float = 0.5,
    ) -> SapProjection:
        """Project voxel centres into a camera image subsampled by `stride`.

        Args:
            voxel_centers: (V, 3) voxel centres in the camera's reference frame (flat order).
            camera: the calibrated camera.
            stride: pixel stride of the SAP grid (the pseudo labels are subsampled alike).
            min_depth: voxels closer than this to the camera are skipped.
        """
        projection = project_points(np.asarray(voxel_centers).reshape(-1, 3), [camera], min_depth)
        valid = np.flatnonzero(projection.valid[0])
        columns, rows = (projection.pixels()[0][valid] // stride).T
        width = -(-camera.width // stride)
        height = -(-camera.height // stride)
        pixel = rows * width + columns
        depth = projection.depth[0][valid]
        order = np.lexsort((depth, pixel))
        pixel, voxel = pixel[order], valid[order]
        starts = np.r_[0, np.flatnonzero(np.diff(pixel)) + 1]
        sizes = np.diff(np.r_[starts, pixel.size])
        group_start = np.repeat(starts, sizes)
        return cls(
            torch.from_numpy(voxel.astype(np.int64)),
            torch.from_numpy(pixel.astype(np.int64)),
            torch.from_numpy(group_start.astype(np.int64)),
            int(height),
            int(width),
        )


@dataclass(frozen=True)
class SapRender:
    """Per-pixel result of compositing voxel predictions.

    Attributes:
        probabilities: (H * W, M - 1) class distribution per pixel (zeros where nothing landed).
        weight: (H * W,) accumulated visibility weight per pixel (0..1).
    """

    probabilities: torch.Tensor
    weight: torch.Tensor


def composite(voxel_probabilities: torch.Tensor, projection: SapProjection) -> SapRender:
    """Composite voxel class probabilities onto the SAP pixel grid of one camera.

    Args:
        voxel_probabilities: (V, M) class probabilities of every voxel in flat grid order,
            class 0 = empty. Computed in fp32 whatever the input dtype.
        projection: the precomputed voxel-to-pixel mapping of this camera.

    Returns:
        Per-pixel class distribution over classes 1..M-1 and accumulated weight.
    """
    probs = voxel_probabilities.float()[projection.voxel]
    occupancy = (1.0 - probs[:, 0]).clamp(0.0, 1.0)
    classes = probs[:, 1:] / occupancy.clamp_min(_EPS)[:, None]
    # Exclusive cumulative log-transmittance inside each pixel group (front to back).
    log_clear = torch.log((1.0 - occupancy).clamp_min(_EPS))
    running = torch.cumsum(log_clear, dim=0)
    before_group = torch.where(
        projection.group_start > 0,
        running[(projection.group_start - 1).clamp_min(0)],
        torch.zeros_like(running),
    )
    exclusive = running - log_clear - before_group
    weight = occupancy * torch.exp(exclusive)
    pixels = projection.height * projection.width
    accumulated = torch.zeros(pixels, classes.shape[1], dtype=classes.dtype, device=classes.device)
    accumulated.index_add_(0, projection.pixel, weight[:, None] * classes)
    total = torch.zeros(pixels, dtype=classes.dtype, device=classes.device)
    total.index_add_(0, projection.pixel, weight)
    return SapRender(accumulated / total.clamp_min(_EPS)[:, None], total)


def sap_loss(
    voxel_logits: torch.Tensor,
    projection: SapProjection,
    pseudo_labels: torch.Tensor,
    min_weight: float = 0.3,
    empty_label: int = 0,
) -> torch.Tensor:
    """Cross-entropy between composited voxel predictions and 2D pseudo labels.

    Args:
        voxel_logits: (M, X, Y, Z) class logits of one sample.
        projection: voxel-to-pixel mapping of the camera the labels belong to.
        pseudo_labels: (H, W) classes other than `empty_label` on the SAP pixel grid,
            255 = unknown.
        min_weight: pixels whose accumulated weight is below this are not supervised (the
            voxels there are mostly empty or outside the grid).
        empty_label: the empty class (0 on SemanticKITTI, 17 = free on Occ3D).

    Returns:
        Scalar loss (0 when no pixel qualifies), fp32.
    """
    labels = pseudo_labels.reshape(-1).long()
    if empty_label != 0:
        # `composite` wants the empty class first: move it there, and the labels with it.
        num_classes = voxel_logits.shape[0]
        order = [empty_label, *(c for c in range(num_classes) if c != empty_label)]
        voxel_logits = voxel_logits[order]
        lut = torch.full((256,), IGNORE, dtype=torch.long, device=labels.device)
        lut[torch.tensor(order, device=labels.device)] = torch.arange(
            num_classes, device=labels.device
        )
        labels = lut[labels.clamp(0, 255)]
    probabilities = torch.softmax(voxel_logits.float().reshape(voxel_logits.shape[0], -1).T, dim=1)
    render = composite(probabilities, projection)
    if labels.numel() != render.weight.numel():
        raise ValueError(
            f"sap_loss: pseudo labels have {labels.numel()} pixels, the projection "
            f"grid {projection.height}x{projection.width}"
        )
    mask = (labels != IGNORE) & (labels > 0) & (render.weight >= min_weight)
    if not bool(mask.any()):
        return voxel_logits.float().sum() * 0.0
    log_probs = torch.log(render.probabilities[mask].clamp_min(_EPS))
    return F.nll_loss(log_probs, labels[mask] - 1)
