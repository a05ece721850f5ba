"""Human- and machine-readable reports of evaluation scores, in percent like the official scripts.

Both official scripts print ``round(value * 100, 2)`` of numpy float64 values, which rounds with
numpy's rule (`np.round`); `percent` does the same, so the printed digits match theirs. NaN
(a class absent from both ground truth and prediction on Occ3D) is written as null in JSON.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

import numpy as np

from occle_core.eval.occ3d import Occ3DScores
from occle_core.eval.semantickitti import SSCScores
from occle_core.io.atomic import atomic_write_bytes

Scores = SSCScores | Occ3DScores
_NAME_WIDTH = 24


def percent(value: float, decimals: int = 2) -> float:
    """`value` * 100 rounded like the official scripts (numpy rounding); NaN stays NaN."""
    return float(np.round(np.float64(value) * 100, decimals))


def _json_value(value: float) -> float | None:
    rounded = percent(value)
    return None if math.isnan(rounded) else rounded


def per_class_percent(scores: Scores) -> dict[str, float]:
    """Rounded per-class IoU in percent of the evaluated classes (KITTI 1..19, Occ3D 0..16)."""
    return {name: percent(iou) for name, iou in scores.class_iou().items()}


def report_dict(scores: Scores) -> dict[str, Any]:
    """The JSON report: benchmark, miou, per_class (null = absent), KITTI completion metrics.

    Values are percent rounded to 2 decimals; `num_frames` is the number of evaluated frames.
    """
    result: dict[str, Any] = {}
    if isinstance(scores, SSCScores):
        result["benchmark"] = "semantickitti_ssc"
        result["miou"] = _json_value(scores.miou)
        result["iou"] = _json_value(scores.completion_iou)
        result["precision"] = _json_value(scores.precision)
        result["recall"] = _json_value(scores.recall)
    else:
        result["benchmark"] = "occ3d_nuscenes"
        result["miou"] = _json_value(scores.miou)
        result["iou_geometry"] = _json_value(scores.geometry_iou())
    result["per_class"] = {name: _json_value(iou) for name, iou in scores.class_iou().items()}
    result["num_frames"] = scores.num_frames
    return result


def write_json_report(path: str | os.PathLike[str], scores: Scores) -> None:
    """Write `report_dict(scores)` as JSON to `path`, atomically (parent folders are created)."""
    text = json.dumps(report_dict(scores), indent=2, allow_nan=False) + "\n"
    atomic_write_bytes(path, text.encode("utf-8"))


def _row(name: str, value: float) -> str:
    shown = "n/a" if math.isnan(value) else f"{percent(value):.2f}"
    return f"{name:<{_NAME_WIDTH}}{shown:>9}"


def _summary_rows(scores: Scores) -> list[tuple[str, float]]:
    if isinstance(scores, SSCScores):
        return [
            ("Precision", scores.precision),
            ("Recall", scores.recall),
            ("IoU (completion)", scores.completion_iou),
            ("mIoU (SSC)", scores.miou),
        ]
    return [("IoU (geometry)", scores.geometry_iou()), ("mIoU", scores.miou)]


def format_table(scores: Scores) -> str:
    """Per-class IoU table followed by the summary metrics, in percent with 2 decimals.

    Classes absent from both ground truth and prediction (NaN, Occ3D only) show as "n/a".
    """
    title = "SemanticKITTI SSC" if isinstance(scores, SSCScores) else "Occ3D-nuScenes (camera mask)"
    rule = "-" * (_NAME_WIDTH + 9)
    lines = [
        f"{title}: {scores.num_frames} frames",
        rule,
        f"{'class':<{_NAME_WIDTH}}{'IoU [%]':>9}",
        rule,
    ]
    lines += [_row(name, iou) for name, iou in scores.class_iou().items()]
    lines.append(rule)
    lines += [_row(name, value) for name, value in _summary_rows(scores)]
    return "\n".join(lines)
