"""Preview image of a synthetic frame: camera image, its 2D labels, and the voxel GT from above."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from occle_core.data.semantickitti.labels import load_label_config
from occle_core.viz import bev_label_image

_GAP = 4


def label_colors_rgb() -> NDArray[np.uint8]:
    """(256, 3) RGB per training class in the official colours; 255 (no label) black."""
    colors = np.zeros((256, 3), dtype=np.uint8)
    official = load_label_config().class_colors_rgb()
    colors[: len(official)] = official
    return colors


def _fit_height(image: NDArray[np.uint8], height: int) -> NDArray[np.uint8]:
    width = max(1, round(image.shape[1] * height / image.shape[0]))
    return np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.NEAREST))


def compose_preview(
    image: NDArray[np.uint8], semantic: NDArray[np.uint8], voxel_labels: NDArray[np.uint8] | None
) -> NDArray[np.uint8]:
    """Stack the camera image over its labels, with the BEV of the voxel GT on the right.

    Args:
        image: (H, W, 3) RGB camera image.
        semantic: (H, W) training classes (255 = sky).
        voxel_labels: (X, Y, Z) voxel classes, or None when the frame has no GT.

    Returns:
        (H', W', 3) uint8 preview.
    """
    colors = label_colors_rgb()
    left = np.concatenate(
        [image, np.full((_GAP, image.shape[1], 3), 255, np.uint8), colors[semantic]]
    )
    if voxel_labels is None:
        return left
    bev = _fit_height(bev_label_image(voxel_labels, colors, empty=0), left.shape[0])
    gap = np.full((left.shape[0], _GAP, 3), 255, np.uint8)
    return np.concatenate([left, gap, bev], axis=1)
