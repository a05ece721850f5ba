"""Small plots drawn with PIL: a confusion matrix and training curves (no plotting library)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw

_CURVE_COLORS = ((31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14))


def confusion_image(
    confusion: NDArray[np.integer], class_names: Sequence[str], cell: int = 16
) -> NDArray[np.uint8]:
    """Row-normalised confusion matrix (rows = ground truth) as a blue heat map with names.

    Args:
        confusion: (C, C) counts, rows = ground truth, columns = prediction.
        class_names: C names.
        cell: pixels per cell.

    Returns:
        (H, W, 3) uint8 image.
    """
    counts = np.asarray(confusion, dtype=np.float64)
    n = counts.shape[0]
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
    margin = 6 * max(len(name) for name in class_names) + 8
    size = n * cell
    image = Image.new("RGB", (margin + size + 4, margin + size + 4), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    for r in range(n):
        for c in range(n):
            shade = int(255 * (1.0 - rates[r, c]))
            box = (margin + c * cell, margin + r * cell, margin + (c + 1) * cell - 1)
            draw.rectangle((*box, margin + (r + 1) * cell - 1), fill=(shade, shade, 255))
        draw.text((2, margin + r * cell + 2), class_names[r], fill=(0, 0, 0))
    # Column names, written vertically by rotating a strip.
    strip = Image.new("RGB", (margin, size), (255, 255, 255))
    strip_draw = ImageDraw.Draw(strip)
    for c in range(n):
        strip_draw.text((2, c * cell + 2), class_names[c], fill=(0, 0, 0))
    image.paste(strip.rotate(90, expand=True), (margin, 0))
    draw.text((2, 2), "truth \\ predicted", fill=(0, 0, 0))
    return np.asarray(image)


def curves_image(
    series: Mapping[str, Sequence[tuple[float, float]]],
    width: int = 480,
    height: int = 240,
    title: str = "",
) -> NDArray[np.uint8]:
    """Line plot of named (x, y) series on shared axes, with a legend.

    Returns:
        (height, width, 3) uint8 image.
    """
    image = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    left, right, top, bottom = 48, width - 8, 18, height - 20
    points = [p for values in series.values() for p in values if np.isfinite(p[1])]
    draw.rectangle((left, top, right, bottom), outline=(0, 0, 0))
    if title:
        draw.text((left, 2), title, fill=(0, 0, 0))
    if not points:
        return np.asarray(image)
    xs, ys = np.array([p[0] for p in points]), np.array([p[1] for p in points])
    x0, x1 = float(xs.min()), float(max(xs.max(), xs.min() + 1))
    y0, y1 = float(min(ys.min(), 0.0)), float(ys.max()) or 1.0
    draw.text((2, top), f"{y1:.3g}", fill=(0, 0, 0))
    draw.text((2, bottom - 10), f"{y0:.3g}", fill=(0, 0, 0))
    draw.text((left, bottom + 4), f"{x0:.0f}", fill=(0, 0, 0))
    draw.text((right - 30, bottom + 4), f"{x1:.0f}", fill=(0, 0, 0))

    def to_pixel(x: float, y: float) -> tuple[float, float]:
        return (
            left + (x - x0) / (x1 - x0) * (right - left),
            bottom - (y - y0) / ((y1 - y0) or 1.0) * (bottom - top),
        )

    for index, (name, values) in enumerate(series.items()):
        color = _CURVE_COLORS[index % len(_CURVE_COLORS)]
        line = [to_pixel(x, y) for x, y in values if np.isfinite(y)]
        if len(line) > 1:
            draw.line(line, fill=color, width=2)
        elif line:
            draw.ellipse(
                (line[0][0] - 2, line[0][1] - 2, line[0][0] + 2, line[0][1] + 2), fill=color
            )
        draw.text((right - 150, top + 4 + 12 * index), name, fill=color)
    return np.asarray(image)
