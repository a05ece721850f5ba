"""Isometric 3D renderings of voxel grids, and labelled side-by-side panels.

Grids are indexed [x, y, z] (x forward, y left, z up). The isometric view looks from behind the
vehicle, above and to its right, so the scene ahead recedes up the image; voxels are painted as
shaded cubes back to front (painter's algorithm), top faces lightest.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw

_SHADES = (1.0, 0.78, 0.6)  # top, left, right face brightness


def _inside(polygon: Sequence[tuple[float, float]], size: int) -> NDArray[np.bool_]:
    """Pixel-centre mask of a convex polygon on a size x size tile."""
    rows, cols = np.mgrid[0:size, 0:size] + 0.5
    mask = np.ones((size, size), dtype=bool)
    n = len(polygon)
    area = sum(
        polygon[i][0] * polygon[(i + 1) % n][1] - polygon[(i + 1) % n][0] * polygon[i][1]
        for i in range(n)
    )
    sign = 1.0 if area > 0 else -1.0
    for i in range(n):
        (x0, y0), (x1, y1) = polygon[i], polygon[(i + 1) % n]
        cross = (x1 - x0) * (rows - y0) - (y1 - y0) * (cols - x0)
        mask &= sign * cross >= -1e-9
    return mask


def _cube_masks(edge: int) -> list[NDArray[np.bool_]]:
    """Top, left and right face masks of an isometric cube sprite of 2*edge x 2*edge pixels."""
    e, h = float(edge), edge / 2.0
    top = [(0.0, h), (e, 0.0), (2 * e, h), (e, e)]
    left = [(0.0, h), (e, e), (e, 2 * e), (0.0, e + h)]
    right = [(e, e), (2 * e, h), (2 * e, e + h), (e, 2 * e)]
    masks = [_inside(face, 2 * edge) for face in (top, left, right)]
    masks[1] &= ~masks[0]
    masks[2] &= ~(masks[0] | masks[1])
    return masks


def isometric_image(
    labels: NDArray[np.integer],
    colors: NDArray[np.uint8],
    empty: int,
    ignore: int = 255,
    edge: int = 4,
    background: tuple[int, int, int] = (255, 255, 255),
) -> NDArray[np.uint8]:
    """Render the solid voxels of a class grid as shaded isometric cubes.

    Args:
        labels: (X, Y, Z) class grid.
        colors: (C, 3) uint8 RGB per class.
        empty: free-space class (not drawn).
        ignore: unknown class (not drawn).
        edge: half the sprite width in pixels (cube size on screen).
        background: canvas colour.

    Returns:
        (H, W, 3) uint8 image.
    """
    size_x, size_y, size_z = labels.shape
    solid = (labels != empty) & (labels != ignore)
    x, y, z = np.nonzero(solid)
    # Screen position of each cube's sprite: x recedes up-left, y (left) goes down-left.
    u = (size_x - 1 - x + y) * edge
    v = (2 * size_x - 2 - x - y) * edge // 2 + (size_z - 1 - z) * edge
    height = (size_x + size_y) * edge // 2 + size_z * edge + 2 * edge
    width = (size_x + size_y) * edge + 2 * edge
    canvas = np.empty((height, width, 3), dtype=np.uint8)
    canvas[:] = background
    masks = _cube_masks(edge)
    shaded = [np.clip(colors.astype(np.float32) * s, 0, 255).astype(np.uint8) for s in _SHADES]
    # Far (large x, small y, low z) first, so nearer cubes paint over them.
    order = np.lexsort((z, y, -x))
    cls = np.clip(labels[x, y, z].astype(np.int64), 0, len(colors) - 1)
    for i in order:
        tile = canvas[v[i] : v[i] + 2 * edge, u[i] : u[i] + 2 * edge]
        for mask, palette in zip(masks, shaded, strict=True):
            tile[mask] = palette[cls[i]]
    return canvas


def titled(image: NDArray[np.uint8], title: str, height: int = 14) -> NDArray[np.uint8]:
    """The image with a white title strip on top (PIL's built-in bitmap font)."""
    strip = Image.new("RGB", (image.shape[1], height), (255, 255, 255))
    ImageDraw.Draw(strip).text((3, 1), title, fill=(0, 0, 0))
    return np.concatenate([np.asarray(strip), image], axis=0)


def side_by_side(
    images: Sequence[NDArray[np.uint8]], titles: Sequence[str], gap: int = 6
) -> NDArray[np.uint8]:
    """Titled images next to each other, top aligned, on a white canvas."""
    if len(images) != len(titles) or not images:
        raise ValueError("side_by_side: one title per image, at least one image")
    panels = [titled(image, title) for image, title in zip(images, titles, strict=True)]
    height = max(p.shape[0] for p in panels)
    width = sum(p.shape[1] for p in panels) + gap * (len(panels) - 1)
    canvas = np.full((height, width, 3), 255, dtype=np.uint8)
    column = 0
    for panel in panels:
        canvas[: panel.shape[0], column : column + panel.shape[1]] = panel
        column += panel.shape[1] + gap
    return canvas
