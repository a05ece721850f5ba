"""Result renderings of the demo and of `occle eval --render`: prediction vs ground truth in 3D
and bird's-eye view, predicted voxels over the camera image, confusion matrix, training curves."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from occle_core.data.semantickitti.sequence import SemanticKittiSequence
from occle_core.geometry.camera import project_points
from occle_core.io.images import write_png
from occle_core.viz.bev import bev_label_image
from occle_core.viz.legend import present_classes, with_class_legend
from occle_core.viz.overlay import draw_points
from occle_core.viz.plots import confusion_image, curves_image
from occle_core.viz.voxels import isometric_image, side_by_side


def render_frame_comparison(
    sequence: SemanticKittiSequence,
    index: int,
    prediction: NDArray[np.uint8],
    out: Path,
    edge: int = 3,
) -> list[Path]:
    """Write `SS_NNNNNN_3d.png`, `_bev.png` and `_camera.png` for one frame.

    The ground truth is drawn where it is valid; the prediction is drawn on the same voxels
    (outside the observed volume nothing is scored, so nothing is shown), and in the camera
    view every occupied predicted voxel centre is drawn over the image in its class colour.
    Each image has a legend of the classes it shows.
    """
    colors = sequence.labels.class_colors_rgb()
    names = sequence.labels.class_names
    truth = sequence.voxel_ground_truth(index).labels
    shown = np.where(truth == 255, 255, prediction).astype(np.uint8)
    # Both panels share one legend: the classes of either, without empty (0) and unknown (255).
    present = present_classes(truth, shown, exclude=(0, 255))
    name = f"{sequence.sequence}_{index:06d}"
    written = []
    path = out / f"{name}_3d.png"
    panels = side_by_side(
        [
            isometric_image(truth, colors, 0, edge=edge),
            isometric_image(shown, colors, 0, edge=edge),
        ],
        ["ground truth", "prediction"],
    )
    write_png(path, with_class_legend(panels, names, colors, present))
    written.append(path)
    scale = max(1, 256 // truth.shape[0])
    bevs = [
        np.kron(bev_label_image(grid, colors, 0), np.ones((scale, scale, 1), dtype=np.uint8))
        for grid in (truth, shown)
    ]
    path = out / f"{name}_bev.png"
    panels = side_by_side(bevs, ["ground truth (top view)", "prediction (top view)"])
    write_png(path, with_class_legend(panels, names, colors, present))
    written.append(path)
    frame = sequence.frame(index)
    if frame.images:
        occupied = np.argwhere((prediction != 0) & (prediction != 255))
        centres = sequence.grid.centers_of(occupied)
        projection = project_points(centres, frame.cameras[:1])
        valid = projection.valid[0]
        order = np.argsort(-projection.depth[0][valid])  # far first
        uv = projection.uv[0][valid][order]
        classes = prediction[tuple(occupied[valid][order].T)]
        overlay = draw_points(frame.images[0], uv, colors[classes], radius=1)
        path = out / f"{name}_camera.png"
        panels = side_by_side([frame.images[0], overlay], ["camera", "predicted voxels"])
        write_png(path, with_class_legend(panels, names, colors, present_classes(classes)))
        written.append(path)
    return written


def render_confusion(
    confusion: NDArray[np.integer], class_names: Sequence[str], path: Path
) -> Path:
    """Row-normalised confusion matrix PNG (rows = ground truth)."""
    write_png(path, confusion_image(confusion, class_names))
    return path


def render_training_curves(metrics_jsonl: Path, path: Path) -> Path:
    """Loss and validation-mIoU curves of a run's metrics.jsonl, stacked in one PNG."""
    records = [json.loads(line) for line in metrics_jsonl.read_text().splitlines() if line]
    loss_terms = ("total", "final_ce", "sem_2d", "sap", "geo_semi")
    losses = {
        name: [(r["step"], r[name]) for r in records if name in r]
        for name in loss_terms
        if any(name in r for r in records)
    }
    validation = {
        "val mIoU %": [(r["step"], 100 * r["val_miou"]) for r in records if "val_miou" in r],
        "val IoU %": [(r["step"], 100 * r["val_iou"]) for r in records if "val_iou" in r],
    }
    image = np.concatenate(
        [
            curves_image(losses, title="training losses", ylabel="loss"),
            curves_image(validation, title="validation (official SSC metric)", ylabel="score (%)"),
        ],
        axis=0,
    )
    write_png(path, image)
    return path
