"""Plots with matplotlib: training curves, a confusion matrix and metric-vs-label-ratio curves.

Every plot is drawn on its own `matplotlib.figure.Figure` with an Agg canvas, never through
pyplot: pyplot keeps global "current figure" state (unsafe when renders run in threads) and may
pick an interactive backend that needs a display. The figures are returned as (H, W, 3) uint8
RGB arrays, like the rest of occle_core.viz, so they can be written with `write_png` or stacked
with numpy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullLocator
from numpy.typing import NDArray

_DPI = 100
# Small fonts: the default figures are a few hundred pixels wide, and matplotlib's 10 pt
# default would crowd the ticks and legends.
_FONT = 8
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def _new_figure(width: int, height: int, dpi: int) -> Figure:
    """A white figure of width x height pixels with constrained layout and an Agg canvas."""
    if width < 16 or height < 16:
        raise ValueError(f"plot size {width}x{height} px is too small to draw")
    # Constrained layout fits tick labels, legends and colorbars inside the fixed pixel size.
    figure = Figure(figsize=(width / dpi, height / dpi), dpi=dpi, layout="constrained")
    FigureCanvasAgg(figure)  # attaches itself as figure.canvas
    return figure


def _to_array(figure: Figure, width: int, height: int) -> NDArray[np.uint8]:
    """Rasterise the figure to exactly (height, width, 3) uint8 RGB."""
    canvas = figure.canvas
    assert isinstance(canvas, FigureCanvasAgg)
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    # figsize * dpi may round to one pixel less than asked for; pad or crop so callers that
    # stack plots (and tests of the PNG size) get the exact size.
    image = np.full((height, width, 3), 255, dtype=np.uint8)
    rows, cols = min(height, rgba.shape[0]), min(width, rgba.shape[1])
    image[:rows, :cols] = rgba[:rows, :cols, :3]
    return image


def curves_image(
    series: Mapping[str, Sequence[tuple[float, float]]],
    width: int = 480,
    height: int = 240,
    title: str = "",
    ylabel: str = "value",
    xlabel: str = "step",
    dpi: int = _DPI,
) -> NDArray[np.uint8]:
    """Line plot of named (x, y) series on shared axes, with grid and a legend.

    Args:
        series: curve name -> sequence of (x, y) points, e.g. {"total": [(step, loss), ...]}.
            Points with a non-finite y are skipped (a diverged or missing value must not hide
            the rest of the curve); empty series are left out of the legend.
        width: image width in pixels.
        height: image height in pixels.
        title: title above the axes ("" for none).
        ylabel: y axis label, e.g. "loss" or "mIoU %".
        xlabel: x axis label.
        dpi: pixels per inch, i.e. how large the fonts are relative to the image.

    Returns:
        (height, width, 3) uint8 RGB image.
    """
    figure = _new_figure(width, height, dpi)
    axes = figure.add_subplot()
    drawn = 0
    integral = True
    for index, (name, values) in enumerate(series.items()):
        points = np.array([(x, y) for x, y in values if np.isfinite(y)], dtype=np.float64)
        if len(points) == 0:
            continue
        integral &= bool(np.all(points[:, 0] == np.round(points[:, 0])))
        # A single point would be an invisible zero-length line: give every curve markers
        # when it has few points.
        marker = _MARKERS[index % len(_MARKERS)] if len(points) < 12 else None
        axes.plot(points[:, 0], points[:, 1], label=name, marker=marker, markersize=3, lw=1.5)
        drawn += 1
    if drawn:
        axes.legend(fontsize=_FONT, loc="best", framealpha=0.8)
    else:
        axes.text(0.5, 0.5, "no data", ha="center", va="center", transform=axes.transAxes)
    if drawn and integral:
        # Steps are whole numbers: no "1.975" ticks when only a few steps were logged.
        axes.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    axes.set_xlabel(xlabel, fontsize=_FONT)
    axes.set_ylabel(ylabel, fontsize=_FONT)
    axes.tick_params(labelsize=_FONT)
    axes.grid(True, alpha=0.3)
    if title:
        axes.set_title(title, fontsize=_FONT + 1)
    return _to_array(figure, width, height)


def confusion_image(
    confusion: NDArray[np.integer],
    class_names: Sequence[str],
    cell: int = 16,
    title: str = "confusion matrix (row-normalised)",
    dpi: int = _DPI,
) -> NDArray[np.uint8]:
    """Row-normalised confusion matrix as a heat map with class-name ticks and a colorbar.

    Each ground-truth row is divided by its total, so the diagonal reads as per-class recall
    and rare classes are as visible as frequent ones. Ground-truth classes that never occur
    have an all-zero row.

    Args:
        confusion: (C, C) counts, rows = ground truth, columns = prediction (the orientation
            of `SSCScores.confusion` and `Occ3DScores.confusion`).
        class_names: C names, in class-index order.
        cell: approximate pixels per matrix cell (sets the image size).
        title: title above the matrix ("" for none).
        dpi: pixels per inch, i.e. how large the fonts are relative to the image.

    Returns:
        (H, W, 3) uint8 RGB image; x axis "predicted", y axis "ground truth".

    Raises:
        ValueError: `confusion` is not square or does not match `class_names`.
    """
    counts = np.asarray(confusion, dtype=np.float64)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1]:
        raise ValueError(f"confusion_image: need a (C, C) matrix, got shape {counts.shape}")
    if len(class_names) != counts.shape[0]:
        raise ValueError(
            f"confusion_image: {len(class_names)} class names for a {counts.shape[0]}-class matrix"
        )
    n = counts.shape[0]
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
    # Room for the rotated column names below and the row names left of the matrix (about
    # 6 px per character at 8 pt), the axis labels, the title and the colorbar.
    label_px = 6 * max((len(name) for name in class_names), default=1) + 30
    width = n * cell + label_px + 110
    height = n * cell + label_px + 50
    figure = _new_figure(width, height, dpi)
    axes = figure.add_subplot()
    heat = axes.imshow(rates, cmap="Blues", vmin=0.0, vmax=1.0, interpolation="nearest")
    ticks = np.arange(n)
    axes.set_xticks(ticks, labels=list(class_names), rotation=90, fontsize=_FONT - 1)
    axes.set_yticks(ticks, labels=list(class_names), fontsize=_FONT - 1)
    axes.set_xlabel("predicted", fontsize=_FONT)
    axes.set_ylabel("ground truth", fontsize=_FONT)
    if title:
        axes.set_title(title, fontsize=_FONT + 1)
    if cell >= 28:
        # Only large cells have room for the numbers; dark cells get white text.
        for r in range(n):
            for c in range(n):
                color = "white" if rates[r, c] > 0.5 else "black"
                axes.text(
                    c,
                    r,
                    f"{100 * rates[r, c]:.0f}",
                    ha="center",
                    va="center",
                    fontsize=_FONT - 1,
                    color=color,
                )
    colorbar = figure.colorbar(heat, ax=axes, fraction=0.046, pad=0.02)
    colorbar.set_label("fraction of the ground-truth row", fontsize=_FONT)
    colorbar.ax.tick_params(labelsize=_FONT)
    return _to_array(figure, width, height)


def _percent(ratio: float) -> str:
    """0.05 -> "5 %", 0.125 -> "12.5 %" (labels are fractions of the full label set)."""
    return f"{100 * ratio:.4g} %"


def label_ratio_image(
    ratios: Sequence[float],
    curves: Mapping[str, Sequence[float]],
    metric: str = "mIoU",
    spreads: Mapping[str, Sequence[float]] | None = None,
    width: int = 480,
    height: int = 320,
    title: str = "",
    dpi: int = _DPI,
) -> NDArray[np.uint8]:
    """A metric against the fraction of labels used, one line with markers per method.

    The x axis is logarithmic, because label-efficiency studies sample the ratio
    geometrically (1 %, 5 %, 10 %, ... 100 %), and its ticks are exactly the given ratios,
    written as percentages.

    Args:
        ratios: R fractions of the labels used, each in (0, 1], e.g. [0.01, 0.1, 0.2, 1.0].
        curves: method name -> R metric values in percent (e.g. 28.4 for 28.4 % mIoU), in
            the order of `ratios`; NaN marks a missing run (the line is broken there).
        metric: name of the metric, for the y label ("mIoU" -> "mIoU (%)").
        spreads: optional method name -> R non-negative spreads (e.g. the standard deviation
            over seeds, in percent), drawn as symmetric error bars; methods not named have
            none.
        width: image width in pixels.
        height: image height in pixels.
        title: title above the axes ("" for none).
        dpi: pixels per inch, i.e. how large the fonts are relative to the image.

    Returns:
        (height, width, 3) uint8 RGB image.

    Raises:
        ValueError: no ratios or methods, a ratio outside (0, 1], or a method (named in the
            message) whose values or spreads do not have one entry per ratio.
    """
    x = np.asarray(ratios, dtype=np.float64)
    if x.ndim != 1 or len(x) == 0:
        raise ValueError("label_ratio_image: need at least one label ratio")
    if not np.all((x > 0) & (x <= 1)):
        raise ValueError(f"label_ratio_image: label ratios must be in (0, 1], got {list(ratios)}")
    if not curves:
        raise ValueError("label_ratio_image: need at least one method")
    spreads = spreads or {}
    unknown = sorted(set(spreads) - set(curves))
    if unknown:
        raise ValueError(f"label_ratio_image: spreads given for unknown methods {unknown}")
    # Check every method before drawing, so a bad input fails the same way whatever its order.
    for name, values in curves.items():
        if len(values) != len(x):
            raise ValueError(
                f"label_ratio_image: method {name!r} has {len(values)} values "
                f"for {len(x)} label ratios"
            )
        if name in spreads and len(spreads[name]) != len(x):
            raise ValueError(
                f"label_ratio_image: method {name!r} has {len(spreads[name])} spreads "
                f"for {len(x)} label ratios"
            )
        if name in spreads and np.any(np.asarray(spreads[name], dtype=np.float64) < 0):
            raise ValueError(f"label_ratio_image: method {name!r} has a negative spread")
    figure = _new_figure(width, height, dpi)
    axes = figure.add_subplot()
    order = np.argsort(x)  # lines are drawn left to right whatever order the ratios came in
    # Legend entries in the order of `curves` (matplotlib would list error-bar plots last).
    handles: list[Artist | tuple[Artist, ...]] = []
    for index, (name, values) in enumerate(curves.items()):
        y = np.asarray(values, dtype=np.float64)[order]
        marker = _MARKERS[index % len(_MARKERS)]
        if name in spreads:
            error = np.asarray(spreads[name], dtype=np.float64)[order]
            container = axes.errorbar(
                x[order], y, yerr=error, label=name, marker=marker, markersize=4, capsize=3, lw=1.5
            )
            handles.append(container)
        else:
            handles += axes.plot(x[order], y, label=name, marker=marker, markersize=4, lw=1.5)
    axes.set_xscale("log")
    # Ticks exactly at the measured ratios; log-scale minor ticks would only add clutter.
    ticks = np.unique(x)
    axes.xaxis.set_major_locator(FixedLocator(ticks.tolist()))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _pos: _percent(value)))
    axes.xaxis.set_minor_locator(NullLocator())
    # A little room either side of the first and last ratio, so end markers are not clipped.
    axes.set_xlim(ticks[0] / 1.25, ticks[-1] * 1.25)
    axes.set_xlabel("fraction of labels used", fontsize=_FONT)
    axes.set_ylabel(f"{metric} (%)", fontsize=_FONT)
    axes.tick_params(labelsize=_FONT)
    axes.grid(True, alpha=0.3)
    axes.legend(handles=handles, fontsize=_FONT, loc="best", framealpha=0.8)
    if title:
        axes.set_title(title, fontsize=_FONT + 1)
    return _to_array(figure, width, height)
