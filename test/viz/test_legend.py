"""occle_core.viz.legend: class legends beside voxel and BEV renders."""

from __future__ import annotations

import numpy as np
import pytest

from occle_core.viz.bev import bev_label_image
from occle_core.viz.legend import present_classes, with_class_legend
from occle_core.viz.voxels import isometric_image

NAMES = ["empty", "car", "road", "building", "vegetation"]
COLORS = np.array(
    [[0, 0, 0], [100, 150, 245], [255, 0, 255], [255, 200, 0], [0, 175, 0]], dtype=np.uint8
)


def _grid() -> np.ndarray:
    grid = np.zeros((16, 16, 4), dtype=np.uint8)
    grid[:, :, 0] = 2  # road
    grid[3:6, 3:6, 1:3] = 1  # a car
    grid[0, 0, 0] = 255  # unknown
    return grid


def _has_color(image: np.ndarray, color: np.ndarray) -> bool:
    return bool(np.any(np.all(image == color, axis=2)))


def test_present_classes_lists_each_class_once_without_the_excluded():
    grid = _grid()
    assert present_classes(grid, exclude=(0, 255)) == [1, 2]
    other = np.full((2, 2, 2), 4, dtype=np.uint8)
    assert present_classes(grid, other, exclude=(0, 255)) == [1, 2, 4]
    assert present_classes(grid) == [0, 1, 2, 255]
    assert present_classes() == []


def test_legend_adds_width_keeps_the_render_and_shows_the_present_swatches():
    render = isometric_image(_grid(), COLORS, 0, edge=3)
    present = present_classes(_grid(), exclude=(0, 255))
    out = with_class_legend(render, NAMES, COLORS, present)
    assert out.dtype == np.uint8 and out.shape[0] == render.shape[0]
    assert out.shape[1] > render.shape[1] + 40
    np.testing.assert_array_equal(out[:, : render.shape[1]], render)
    panel = out[:, render.shape[1] :]
    for c in present:
        assert _has_color(panel, COLORS[c]), NAMES[c]
    # Classes not in the render get no swatch; the names are drawn in black.
    assert not _has_color(panel, COLORS[3]) and not _has_color(panel, COLORS[4])
    assert _has_color(panel, np.array([0, 0, 0], dtype=np.uint8))


def test_legend_ignores_order_and_duplicates():
    render = bev_label_image(_grid(), COLORS, 0)
    a = with_class_legend(render, NAMES, COLORS, [2, 1, 2])
    np.testing.assert_array_equal(a, with_class_legend(render, NAMES, COLORS, [1, 2]))
    assert not np.array_equal(a, with_class_legend(render, NAMES, COLORS, [1]))


def test_a_low_render_is_padded_and_many_classes_wrap_into_columns():
    low = np.full((10, 30, 3), 128, dtype=np.uint8)
    out = with_class_legend(low, NAMES, COLORS, [1, 2, 3, 4])
    # Lower than one legend row: padded below with the background.
    assert out.shape[0] > 10 and np.all(out[10:, :30] == 255)
    tall = np.full((200, 30, 3), 128, dtype=np.uint8)
    one_column = with_class_legend(tall, NAMES, COLORS, [1, 2, 3, 4])
    wrapped = with_class_legend(tall[:40], NAMES, COLORS, [1, 2, 3, 4])
    assert wrapped.shape[0] == 40 and wrapped.shape[1] > one_column.shape[1]
    for c in (1, 2, 3, 4):
        assert _has_color(wrapped[:, 30:], COLORS[c])


def test_no_present_class_leaves_the_render_as_is():
    render = bev_label_image(_grid(), COLORS, 0)
    out = with_class_legend(render, NAMES, COLORS, [])
    np.testing.assert_array_equal(out, render)
    assert out is not render


def test_legend_rejects_unknown_classes_and_bad_images():
    render = bev_label_image(_grid(), COLORS, 0)
    with pytest.raises(ValueError, match=r"classes \[255\] have no name or colour"):
        with_class_legend(render, NAMES, COLORS, [1, 255])
    with pytest.raises(ValueError, match="uint8"):
        with_class_legend(render.astype(np.float32), NAMES, COLORS, [1])
