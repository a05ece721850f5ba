"""Points drawn over camera images, and image mosaics."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from PIL import Image


def draw_points(
    image: NDArray[np.uint8], uv: NDArray[np.floating], colors: NDArray[np.uint8], radius: int = 1
) -> NDArray[np.uint8]:
    """Draw square dots on a copy of an image, far points first so near ones stay on top.

    Args:
        image: (H, W, 3) uint8 RGB.
        uv: (N, 2) pixel coordinates (u right, v down), in draw order.
        colors: (N, 3) uint8 RGB per point.
        radius: half size of each dot in pixels (0 = single pixel).

    Returns:
        (H, W, 3) uint8 image with the dots.
    """
    out = image.copy()
    height, width = out.shape[:2]
    cols = np.floor(uv[:, 0]).astype(np.int64)
    rows = np.floor(uv[:, 1]).astype(np.int64)
    for dr in range(-radius, radius + 1):
        for dc in range(-radius, radius + 1):
            r, c = rows + dr, cols + dc
            inside = (r >= 0) & (r < height) & (c >= 0) & (c < width)
            out[r[inside], c[inside]] = colors[inside]
    return out


def mosaic(images: Sequence[NDArray[np.uint8]], columns: int, tile_width: int) -> NDArray[np.uint8]:
    """Tile images row by row, each resized to `tile_width` (keeping the first image's aspect).

    Returns:
        (rows * tile_h, columns * tile_width, 3) uint8 image.
    """
    if not images:
        raise ValueError("mosaic: no images")
    tile_height = round(images[0].shape[0] * tile_width / images[0].shape[1])
    rows = (len(images) + columns - 1) // columns
    canvas = np.zeros((rows * tile_height, columns * tile_width, 3), dtype=np.uint8)
    for index, image in enumerate(images):
        tile = np.asarray(
            Image.fromarray(image).resize((tile_width, tile_height), Image.Resampling.BILINEAR)
        )
        r, c = divmod(index, columns)
        canvas[r * tile_height : (r + 1) * tile_height, c * tile_width : (c + 1) * tile_width] = (
            tile
        )
    return canvas
