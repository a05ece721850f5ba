"""Rendering of projections and voxel grids to images (numpy + PIL), and plots (matplotlib's
object-oriented API on an Agg canvas); nothing needs a display."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from occle_core.viz.bev import bev_height_image, bev_label_image, top_labels
from occle_core.viz.colormap import colorize_values
from occle_core.viz.legend import present_classes, with_class_legend
from occle_core.viz.overlay import draw_points, mosaic

if TYPE_CHECKING:
    from occle_core.viz.plots import confusion_image, curves_image, label_ratio_image

_PLOTS = ("confusion_image", "curves_image", "label_ratio_image")


def __getattr__(name: str) -> Any:
    """The plot functions, imported on first use.

    Importing matplotlib takes a noticeable fraction of a second, and occle_ros imports
    occle_core.viz.palette (and so this package) at node start-up without ever plotting.
    """
    if name in _PLOTS:
        from occle_core.viz import plots

        return getattr(plots, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "bev_height_image",
    "bev_label_image",
    "colorize_values",
    "confusion_image",
    "curves_image",
    "draw_points",
    "label_ratio_image",
    "mosaic",
    "present_classes",
    "top_labels",
    "with_class_legend",
]
