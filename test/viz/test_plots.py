"""occle_core.viz.plots: matplotlib plots rendered to uint8 arrays without pyplot or a display."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from occle_core.viz.plots import _percent, confusion_image, curves_image, label_ratio_image

REPO_ROOT = Path(__file__).resolve().parents[2]
RATIOS = [0.01, 0.05, 0.1, 0.2, 0.5, 1.0]


def _is_blank(image: np.ndarray) -> bool:
    return bool(np.all(image == image[0, 0]))


def _orange_pixels(image: np.ndarray) -> int:
    """Pixels close to matplotlib's second default colour (C1, 255 127 14)."""
    r, g, b = (image[..., i].astype(int) for i in range(3))
    return int(np.sum((r > 220) & (g > 100) & (g < 155) & (b < 60)))


def _loss(n: int = 50, scale: float = 1.0) -> list[tuple[float, float]]:
    return [(float(step), scale * float(np.exp(-step / 20))) for step in range(n)]


def test_curves_image_has_the_asked_size_and_draws_something():
    image = curves_image({"total": _loss()}, title="training losses", ylabel="loss")
    assert image.shape == (240, 480, 3) and image.dtype == np.uint8
    assert not _is_blank(image)
    # Axes, ticks, labels and the curve: far more than a couple of colours.
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 20
    # Odd sizes come out exact too (figsize * dpi may round down by a pixel).
    assert curves_image({"total": _loss()}, width=333, height=201).shape == (201, 333, 3)


def test_a_second_curve_adds_its_line_and_legend_entry():
    one = curves_image({"total": _loss()})
    two = curves_image({"total": _loss(), "sap": _loss(scale=0.5)})
    assert one.shape == two.shape and not np.array_equal(one, two)
    assert _orange_pixels(one) == 0
    # The second curve (line and legend swatch) is drawn in the second colour of the cycle.
    assert _orange_pixels(two) > 50


def test_curves_image_skips_non_finite_values_and_empty_series():
    clean = curves_image({"total": _loss(10)})
    with_nan = curves_image({"total": [*_loss(10), (10.0, float("nan"))], "empty": []})
    # The NaN point is dropped (the x range stays 0..9) and the empty curve is not listed.
    np.testing.assert_array_equal(clean, with_nan)
    nothing = curves_image({})
    assert nothing.shape == (240, 480, 3) and not _is_blank(nothing)


def test_curves_image_rejects_a_size_too_small_to_draw():
    with pytest.raises(ValueError, match="too small"):
        curves_image({"total": _loss()}, width=8, height=240)


def _names(n: int) -> list[str]:
    return [f"class-{i}" for i in range(n)]


def test_confusion_image_is_a_uint8_image_with_a_colorbar():
    n = 20
    # Every row spread evenly: each cell is 5 % of its row, far from the top of the colour map.
    uniform = np.ones((n, n), dtype=np.int64)
    image = confusion_image(uniform, _names(n))
    assert image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8
    assert image.shape[1] > 200 and image.shape[0] > n * 16
    # The darkest blue of "Blues" (rate 1.0, about 8 48 107) is only on the colorbar, which
    # lies right of the matrix.
    dark = np.all(np.abs(image.astype(int) - (8, 48, 107)) < 12, axis=2)
    columns = np.nonzero(dark.any(axis=0))[0]
    assert len(columns) > 0 and columns.min() > image.shape[1] * 0.6


def test_confusion_image_normalises_rows_and_follows_the_stated_orientation():
    rng = np.random.default_rng(3)
    counts = rng.integers(0, 100, size=(5, 5))
    counts[0, 1] = 1000  # asymmetric: the plot of the transpose looks different
    names = ["empty", "car", "road", "building", "vegetation"]
    truth_rows = confusion_image(counts, names)
    # Scaling a ground-truth row changes nothing: colours are fractions of the row.
    scaled = counts.copy()
    scaled[2] *= 7
    np.testing.assert_array_equal(confusion_image(scaled, names), truth_rows)
    assert not np.array_equal(confusion_image(counts.T, names), truth_rows)


def test_confusion_image_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"\(C, C\)"):
        confusion_image(np.ones((3, 4), dtype=np.int64), _names(3))
    with pytest.raises(ValueError, match="2 class names for a 3-class matrix"):
        confusion_image(np.ones((3, 3), dtype=np.int64), _names(2))


def test_label_ratio_image_size_lines_and_error_bars():
    curves = {"OccLE": [20.0, 25.0, 28.0, 30.0, 31.0, 32.0]}
    one = label_ratio_image(RATIOS, curves, metric="mIoU", title="SemanticKITTI val")
    assert one.shape == (320, 480, 3) and one.dtype == np.uint8 and not _is_blank(one)
    two = label_ratio_image(RATIOS, {**curves, "supervised": [10.0, 15, 20, 25, 29, 31]})
    assert _orange_pixels(one) == 0 and _orange_pixels(two) > 50
    spread = label_ratio_image(RATIOS, curves, spreads={"OccLE": [3.0, 2, 2, 1, 1, 1]})
    assert spread.shape == one.shape and not np.array_equal(
        spread, label_ratio_image(RATIOS, curves)
    )
    # Ratios may come in any order: the line is drawn in ratio order.
    shuffled = label_ratio_image(RATIOS[::-1], {"OccLE": curves["OccLE"][::-1]})
    np.testing.assert_array_equal(shuffled, label_ratio_image(RATIOS, curves))


def test_label_ratio_image_names_the_method_with_mismatched_lengths():
    good = [20.0, 25.0, 28.0, 30.0, 31.0, 32.0]
    with pytest.raises(ValueError, match=r"method 'mean teacher' has 5 values for 6 label ratios"):
        label_ratio_image(RATIOS, {"OccLE": good, "mean teacher": good[:5]})
    with pytest.raises(ValueError, match=r"method 'OccLE' has 2 spreads for 6 label ratios"):
        label_ratio_image(RATIOS, {"OccLE": good}, spreads={"OccLE": [1.0, 2.0]})
    with pytest.raises(ValueError, match="unknown methods"):
        label_ratio_image(RATIOS, {"OccLE": good}, spreads={"other": good})
    with pytest.raises(ValueError, match="negative spread"):
        label_ratio_image(RATIOS, {"OccLE": good}, spreads={"OccLE": [-1.0, 0, 0, 0, 0, 0]})


@pytest.mark.parametrize("ratios", [[], [0.0, 0.5], [0.5, 1.5]])
def test_label_ratio_image_rejects_bad_ratios(ratios):
    with pytest.raises(ValueError, match="label ratio"):
        label_ratio_image(ratios, {"OccLE": [1.0] * len(ratios)})


def test_label_ratio_image_needs_a_method():
    with pytest.raises(ValueError, match="at least one method"):
        label_ratio_image(RATIOS, {})


def test_percent_tick_labels():
    assert [_percent(r) for r in RATIOS] == ["1 %", "5 %", "10 %", "20 %", "50 %", "100 %"]
    assert _percent(0.125) == "12.5 %"


def test_plots_are_identical_when_drawn_from_several_threads():
    def draw(index: int) -> np.ndarray:
        if index % 2:
            return curves_image({"total": _loss(), "sap": _loss(scale=0.5)})
        return label_ratio_image(RATIOS, {"OccLE": [20.0, 25, 28, 30, 31, 32]})

    serial = [draw(i) for i in range(2)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(draw, range(8)))
    for index, image in enumerate(parallel):
        np.testing.assert_array_equal(image, serial[index % 2])


def test_no_pyplot_and_matplotlib_only_imported_for_plots():
    # A fresh interpreter: other tests of this session may have imported pyplot themselves.
    code = (
        "import sys\n"
        "import occle_core.viz as viz\n"
        "assert 'matplotlib' not in sys.modules, 'occle_core.viz imported matplotlib'\n"
        "image = viz.curves_image({'total': [(0.0, 1.0), (1.0, 0.5)]})\n"
        "assert image.shape == (240, 480, 3)\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot was imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,  # `-c` puts the working directory first on sys.path: these sources
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
