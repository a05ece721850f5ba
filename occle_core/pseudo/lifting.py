"""Lifting 2D pseudo labels to 3D: S̄ = F(s̄, K(T·P)).

Each LiDAR point is projected into the image of its own frame and takes the pseudo label of the
pixel it lands on (nearest pixel; outside the image or behind the camera: 255). With several
aggregated scans, each voxel takes the majority of its points' labels.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from occle_core.geometry.camera import CameraModel, project_points

IGNORE = 255


def point_pseudo_labels(
    xyz: NDArray[np.floating], camera: CameraModel, pseudo_image: NDArray[np.uint8]
) -> NDArray[np.uint8]:
    """Pseudo label of every point from the image it projects into.

    Args:
        xyz: (N, 3) points in the camera's reference frame.
        camera: the calibrated camera of `pseudo_image`.
        pseudo_image: (H, W) uint8 pseudo labels (255 = unknown) at the camera's resolution.

    Returns:
        (N,) uint8 labels, 255 for points outside the image or behind the camera.
    """
    if pseudo_image.shape != (camera.height, camera.width):
        raise ValueError(
            f"point_pseudo_labels: pseudo labels are {pseudo_image.shape[1]}x"
            f"{pseudo_image.shape[0]}, camera {camera.name} is {camera.width}x{camera.height}"
        )
    projection = project_points(np.asarray(xyz, dtype=np.float64), [camera])
    labels = np.full(len(xyz), IGNORE, dtype=np.uint8)
    valid = projection.valid[0]
    pixels = projection.pixels()[0][valid]
    labels[valid] = pseudo_image[pixels[:, 1], pixels[:, 0]]
    return labels


def vote_voxel_labels(
    point_voxel: NDArray[np.integer],
    point_labels: NDArray[np.uint8],
    num_voxels: int,
    num_classes: int,
    min_share: float = 0.0,
    class_weights: NDArray[np.floating] | None = None,
) -> NDArray[np.uint8]:
    """Majority label per voxel (ties: the lower class id), ignoring 255.

    Args:
        point_voxel: (N,) row of each point's voxel, -1 for points outside the grid.
        point_labels: (N,) uint8 labels, 255 = unknown.
        num_voxels: V.
        num_classes: labels are in 0..num_classes-1.
        min_share: a voxel whose winning class holds less than this share of its labelled
            points is left unknown (0: every voxel with a label keeps its winner).
        class_weights: (num_classes,) weight of one vote of each class (None: all 1); the
            winner is the class with the largest weighted count.

    Returns:
        (V,) uint8, 255 where no point of the voxel has a label or the winner is too weak.
    """
    keep = (point_voxel >= 0) & (point_labels != IGNORE)
    if np.any(point_labels[keep] >= num_classes):
        raise ValueError(f"vote_voxel_labels: labels beyond {num_classes - 1}")
    counts = np.bincount(
        point_voxel[keep].astype(np.int64) * num_classes + point_labels[keep],
        minlength=num_voxels * num_classes,
    ).reshape(num_voxels, num_classes)
    if class_weights is None:
        votes = counts.argmax(axis=1).astype(np.uint8)
    else:
        weights = np.asarray(class_weights, dtype=np.float64)
        if weights.shape != (num_classes,) or not np.all(weights > 0):
            raise ValueError(
                f"vote_voxel_labels: class weights of shape {weights.shape} for {num_classes} "
                "classes, expected one positive weight per class"
            )
        votes = (counts * weights).argmax(axis=1).astype(np.uint8)
    best = np.take_along_axis(counts, votes[:, None].astype(np.int64), axis=1)[:, 0]
    votes[counts.sum(axis=1) == 0] = IGNORE
    if min_share > 0:
        votes[best < min_share * counts.sum(axis=1)] = IGNORE
    return votes
