"""Class colours for any label set: the official palette when the class names are those of
SemanticKITTI or Occ3D-nuScenes, a fixed distinct palette otherwise."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray


def class_colors(class_names: Sequence[str]) -> NDArray[np.uint8]:
    """(len(class_names), 3) uint8 RGB colour per class."""
    from occle_core.data.nuscenes.occ3d import OCC3D_CLASS_NAMES, OCC3D_COLORS_RGB
    from occle_core.data.semantickitti.labels import load_label_config

    names = tuple(class_names)
    kitti = load_label_config()
    if names == kitti.class_names:
        return kitti.class_colors_rgb()
    if names == OCC3D_CLASS_NAMES:
        return OCC3D_COLORS_RGB.copy()
    # Golden-angle hues: neighbouring indices get clearly different colours.
    hues = (np.arange(len(names)) * 0.618033988749895) % 1.0
    return np.stack([_hsv_to_rgb(h, 0.75, 0.95) for h in hues]).astype(np.uint8)


def _hsv_to_rgb(hue: float, saturation: float, value: float) -> NDArray[np.float64]:
    sector = int(hue * 6) % 6
    f = hue * 6 - int(hue * 6)
    p, q, t = (
        value * (1 - saturation),
        value * (1 - f * saturation),
        value * (1 - (1 - f) * saturation),
    )
    rgb = [(value, t, p), (q, value, p), (p, value, t), (p, q, value), (t, p, value), (value, p, q)]
    return np.round(np.array(rgb[sector]) * 255)
