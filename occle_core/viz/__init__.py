"""Rendering of projections and voxel grids to images (numpy + PIL, no display needed)."""

from occle_core.viz.bev import bev_height_image, bev_label_image, top_labels
from occle_core.viz.colormap import colorize_values
from occle_core.viz.overlay import draw_points, mosaic

__all__ = [
    "bev_height_image",
    "bev_label_image",
    "colorize_values",
    "draw_points",
    "mosaic",
    "top_labels",
]
