"""Bird's-eye views of voxel grids.

Grids are indexed [x, y, z] (x forward, y left, z up). The image shows x pointing up and y
pointing left, as seen from above: image row = X-1-i, column = Y-1-j.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from occle_core.viz.colormap import colorize_values


def _to_image_axes(plane: NDArray) -> NDArray:
    """(X, Y, ...) plane indexed [x, y] -> image indexed [row, col] with x up and y left."""
    return plane[::-1, ::-1]


def top_labels(labels: NDArray[np.integer], empty: int, ignore: int = 255) -> NDArray[np.int64]:
    """Label of the highest non-empty, non-ignored voxel of every column.

    Args:
        labels: (X, Y, Z) class grid.
        empty: the free-space class.
        ignore: the unknown class.

    Returns:
        (X, Y) int64 labels; `empty` where the column holds nothing.
    """
    solid = (labels != empty) & (labels != ignore)
    z_size = labels.shape[2]
    # argmax over the reversed z axis finds the top-most solid voxel.
    top = z_size - 1 - np.argmax(solid[:, :, ::-1], axis=2)
    picked = np.take_along_axis(labels, top[:, :, None], axis=2)[:, :, 0].astype(np.int64)
    return np.where(solid.any(axis=2), picked, empty)


def bev_label_image(
    labels: NDArray[np.integer],
    colors: NDArray[np.uint8],
    empty: int,
    ignore: int = 255,
    background: tuple[int, int, int] = (255, 255, 255),
) -> NDArray[np.uint8]:
    """Colour the top-most class of every column.

    Args:
        labels: (X, Y, Z) class grid.
        colors: (C, 3) uint8 RGB per class.
        empty: the free-space class (drawn as `background`).
        ignore: the unknown class.
        background: colour of empty columns.

    Returns:
        (X, Y, 3) uint8 image, x up, y left.
    """
    top = top_labels(labels, empty, ignore)
    image = colors[np.clip(top, 0, len(colors) - 1)].copy()
    image[top == empty] = background
    return _to_image_axes(image).copy()


def bev_height_image(occupancy: NDArray[np.bool_]) -> NDArray[np.uint8]:
    """Colour every column by the height index of its top-most occupied voxel.

    Args:
        occupancy: (X, Y, Z) bool grid.

    Returns:
        (X, Y, 3) uint8 image (black where nothing is occupied), x up, y left.
    """
    z_size = occupancy.shape[2]
    top = z_size - 1 - np.argmax(occupancy[:, :, ::-1], axis=2)
    colors = colorize_values(top.ravel().astype(np.float64), 0, z_size - 1).reshape(*top.shape, 3)
    colors[~occupancy.any(axis=2)] = 0
    return _to_image_axes(colors).copy()
