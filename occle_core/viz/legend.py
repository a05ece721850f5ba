"""Class legends (colour swatch + class name) beside voxel, BEV and overlay renders.

The renders themselves are drawn pixel by pixel (occle_core.viz.voxels, .bev); this only adds a
panel at their right, drawn with PIL so that the swatches are exactly the class colours of the
render. The text uses the DejaVu Sans font that matplotlib ships (readable at small sizes,
unlike PIL's bitmap font), and falls back to PIL's default font if it cannot be loaded.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

_PAD = 6  # pixels around the panel and between the image and the panel
_GAP = 5  # pixels between a swatch and its name
_OUTLINE = (96, 96, 96)  # swatch border, so that white or pale classes stay visible

_Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@lru_cache(maxsize=8)
def _font(size: int) -> _Font:
    """DejaVu Sans of `size` pixels from matplotlib's data folder, else PIL's default font."""
    try:
        import matplotlib

        path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
        return ImageFont.truetype(str(path), size)
    except (ImportError, OSError):
        return ImageFont.load_default()


def present_classes(*grids: NDArray[np.integer], exclude: Iterable[int] = ()) -> list[int]:
    """Sorted classes that occur in any of the grids, without the excluded ones.

    Args:
        grids: label arrays of any shape, e.g. (X, Y, Z) ground truth and prediction.
        exclude: classes not to list, typically the empty class and the ignore label 255.

    Returns:
        Sorted class indices.
    """
    if not grids:
        return []
    found = np.unique(np.concatenate([np.asarray(g).ravel() for g in grids]))
    skipped = set(exclude)
    return [int(c) for c in found if int(c) not in skipped]


def with_class_legend(
    image: NDArray[np.uint8],
    class_names: Sequence[str],
    colors: NDArray[np.uint8],
    present: Iterable[int],
    font_size: int = 12,
    background: tuple[int, int, int] = (255, 255, 255),
) -> NDArray[np.uint8]:
    """The image with a legend of the present classes to its right.

    One row per class: a square swatch of the class colour (grey border) and the class name.
    When the rows do not fit in the image height they wrap into more columns; an image lower
    than one row is padded below with `background`.

    Args:
        image: (H, W, 3) uint8 RGB render.
        class_names: C names, in class-index order.
        colors: (C, 3) uint8 RGB per class, the palette the render was drawn with.
        present: class indices to list (duplicates and order do not matter), e.g. from
            `present_classes`.
        font_size: text height in pixels; the swatches are as tall.
        background: colour of the legend panel.

    Returns:
        (max(H, legend height), W + legend width, 3) uint8 RGB image; a copy of `image` when
        `present` is empty.

    Raises:
        ValueError: `image` is not (H, W, 3) uint8, or a present class has no name or colour.
    """
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(
            f"with_class_legend: need (H, W, 3) uint8, got {image.dtype} {image.shape}"
        )
    classes = sorted({int(c) for c in present})
    limit = min(len(class_names), len(colors))
    bad = [c for c in classes if not 0 <= c < limit]
    if bad:
        raise ValueError(
            f"with_class_legend: classes {bad} have no name or colour "
            f"({len(class_names)} names, {len(colors)} colours)"
        )
    if not classes:
        return image.copy()
    font = _font(font_size)
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    text_width = max(math.ceil(measure.textlength(class_names[c], font=font)) for c in classes)
    row = font_size + 4
    height = image.shape[0]
    per_column = max(1, min(len(classes), (height - 2 * _PAD) // row))
    columns = math.ceil(len(classes) / per_column)
    column_width = font_size + _GAP + text_width + _PAD
    panel_width = _PAD + columns * column_width
    height = max(height, 2 * _PAD + per_column * row)
    panel = Image.new("RGB", (panel_width, height), background)
    draw = ImageDraw.Draw(panel)
    for index, c in enumerate(classes):
        left = _PAD + (index // per_column) * column_width
        top = _PAD + (index % per_column) * row
        fill = tuple(int(v) for v in colors[c][:3])
        swatch = (left, top, left + font_size - 1, top + font_size - 1)
        draw.rectangle(swatch, fill=fill, outline=_OUTLINE)
        x = left + font_size + _GAP
        if isinstance(font, ImageFont.FreeTypeFont):
            # Anchor "lm": the text's vertical middle on the swatch's middle, whatever the font.
            draw.text(
                (x, top + font_size / 2), class_names[c], fill=(0, 0, 0), font=font, anchor="lm"
            )
        else:
            # PIL's bitmap fallback font supports no anchors.
            draw.text((x, top), class_names[c], fill=(0, 0, 0), font=font)
    canvas = np.empty((height, image.shape[1] + panel_width, 3), dtype=np.uint8)
    canvas[:] = background
    canvas[: image.shape[0], : image.shape[1]] = image
    canvas[:, image.shape[1] :] = np.asarray(panel)
    return canvas
