"""`occle pseudo-label`: 2D pseudo labels for every image of some sequences, lifted to 3D, cached.

Cache layout (next to the dataset's own folders, so training never recomputes them)::

    ROOT/sequences/XX/pseudo_labels/image_2/NNNNNN.png   uint8 target ids, 255 = unknown
    ROOT/sequences/XX/pseudo_labels/velodyne/NNNNNN.bin  uint8 per point of the scan, 255 = unknown
    ROOT/sequences/XX/pseudo_labels/voxels/NNNNNN.npz    dense voxel pseudo labels of a key frame
    ROOT/sequences/XX/pseudo_labels/summary.json         source, settings and measured quality
"""

from __future__ import annotations

import json
import os
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from occle_core.data.semantickitti.sequence import SemanticKittiSequence
from occle_core.errors import DataFormatError
from occle_core.frame import Frame
from occle_core.io.atomic import atomic_write_bytes
from occle_core.io.images import read_label_image, read_uint16_image, write_png
from occle_core.pseudo.alignment import ClassAlignment
from occle_core.pseudo.cache import (
    PSEUDO_DIR,
    pseudo_image_path,
    pseudo_points_path,
    pseudo_voxels_path,
    write_voxel_pseudo_labels,
)
from occle_core.pseudo.lifting import IGNORE
from occle_core.pseudo.quality import LabelAgreement
from occle_core.pseudo.simulated import SimulatedErrors, SimulatedFoundationModel
from occle_core.pseudo.temporal import (
    LabelledView,
    TemporalLifting,
    surface_depth,
    temporal_point_labels,
)
from occle_core.pseudo.voxels import DensePseudoLabeller, VoxelWindow


class PseudoLabeller(Protocol):
    """Produces the merged 2D pseudo labels s̄ of one image of a sequence."""

    name: str

    def label(
        self, sequence: SemanticKittiSequence, index: int, image: NDArray[np.uint8]
    ) -> NDArray[np.uint8]: ...


class SimulatedLabeller:
    """The simulated foundation model on a synthetic sequence (reads its exact 2D labels).

    Args:
        alignment: class alignment of the target label set.
        errors: error rates.
        seed: the errors of frame (sequence, index) depend only on (seed, sequence, index).
    """

    def __init__(self, alignment: ClassAlignment, errors: SimulatedErrors | None, seed: int):
        self.model = SimulatedFoundationModel(alignment, errors)
        self.seed = seed
        self.name = SimulatedFoundationModel.name

    def label(
        self, sequence: SemanticKittiSequence, index: int, image: NDArray[np.uint8]
    ) -> NDArray[np.uint8]:
        semantic_file = sequence.path / "synthetic" / "semantic_2" / f"{index:06d}.png"
        instance_file = sequence.path / "synthetic" / "instance_2" / f"{index:06d}.png"
        if not semantic_file.exists() or not instance_file.exists():
            raise DataFormatError(
                semantic_file.parent,
                "no exact 2D labels (synthetic/semantic_2 and instance_2)",
                "a synthetic sequence written by `occle synth`: the simulated foundation model "
                "only works there; use --source transformers on real data",
            )
        semantic = read_label_image(semantic_file)
        instance = read_uint16_image(instance_file, "instance image")
        rng = np.random.default_rng([self.seed, int(sequence.sequence), index])
        return self.model(semantic, instance, rng)


@dataclass
class PseudoLabelReport:
    """What `generate_pseudo_labels` wrote for one sequence and how good it is.

    Attributes:
        sequence: sequence name.
        source: the labeller's name.
        frames: images labelled.
        image_miou: 2D pseudo-label mIoU against exact 2D labels (synthetic only), 0..1.
        image_iou: per-class 2D IoU.
        image_coverage: share of labelled pixels that got a pseudo label.
        point_miou: lifted per-point mIoU against the point labels (when present), 0..1.
        point_iou: per-class point IoU.
        point_coverage: share of labelled points that got a pseudo label (the rest were seen
            by no camera image of their window).
        voxel_frames: key frames given dense voxel pseudo labels.
        voxel_miou: their mIoU against the voxel ground truth (when present), 0..1, over the
            voxels both label (voxels the ground truth calls empty count against a class).
        voxel_iou: per-class voxel IoU.
        voxel_coverage: share of the ground truth's occupied voxels that got a pseudo label.
    """

    sequence: str
    source: str
    frames: int = 0
    image_miou: float | None = None
    image_iou: dict[str, float] | None = None
    image_coverage: float | None = None
    point_miou: float | None = None
    point_iou: dict[str, float] | None = None
    point_coverage: float | None = None
    voxel_frames: int = 0
    voxel_miou: float | None = None
    voxel_iou: dict[str, float] | None = None
    voxel_coverage: float | None = None


def generate_pseudo_labels(
    root: str | os.PathLike[str],
    sequences: Sequence[str],
    labeller: PseudoLabeller,
    settings: dict[str, Any] | None = None,
    progress: Callable[[str, int, int], None] = lambda *_: None,
    lifting: TemporalLifting | None = None,
    voxel_window: VoxelWindow | None = None,
) -> list[PseudoLabelReport]:
    """Label every image of `sequences`, lift to the scans, write the cache and a summary.

    Three passes per sequence: every image is labelled and its PNG written; every scan is
    lifted with `temporal_point_labels` over the images of its window (read back from the PNGs,
    so the window may look forward); every key frame (frame with voxel ground truth files) gets
    dense voxel pseudo labels from the lifted scans of `voxel_window` (`DensePseudoLabeller`).

    Args:
        root: SemanticKITTI-layout dataset root.
        sequences: sequence names.
        labeller: where s̄ comes from.
        settings: recorded in each summary.json (seeds, error rates, model paths).
        progress: called as (sequence, done, total) over the passes.
        lifting: temporal window and tolerances (default `TemporalLifting()`);
            `TemporalLifting.own_image_only()` labels each scan from its own image alone.
        voxel_window: scans accumulated into each key frame (default `VoxelWindow()`).

    Returns:
        One report per sequence (also written to its summary.json).
    """
    lifting = lifting or TemporalLifting()
    voxel_window = voxel_window or VoxelWindow()
    reports = []
    for name in sequences:
        sequence = SemanticKittiSequence(root, name)
        ids = sequence.scan_ids
        report = PseudoLabelReport(sequence.sequence, labeller.name, frames=len(ids))
        total = 2 * len(ids) + len(sequence.voxel_ids)
        _label_images(sequence, labeller, report, _offset_progress(progress, name, 0, total))
        lift_progress = _offset_progress(progress, name, len(ids), total)
        _lift_to_points(sequence, lifting, report, lift_progress)
        dense_progress = _offset_progress(progress, name, 2 * len(ids), total)
        _dense_voxels(sequence, voxel_window, report, dense_progress)
        summary = {
            **asdict(report),
            "settings": settings or {},
            "lifting": asdict(lifting),
            "voxel_window": asdict(voxel_window),
        }
        atomic_write_bytes(
            sequence.path / PSEUDO_DIR / "summary.json",
            json.dumps(summary, indent=2).encode("utf-8"),
        )
        reports.append(report)
    return reports


def _offset_progress(
    progress: Callable[[str, int, int], None], name: str, offset: int, total: int
) -> Callable[[int], None]:
    """`progress` of one pass: (done) -> progress(name, offset + done, total)."""
    return lambda done: progress(name, offset + done, total)


def _label_images(
    sequence: SemanticKittiSequence,
    labeller: PseudoLabeller,
    report: PseudoLabelReport,
    progress: Callable[[int], None],
) -> None:
    """Pass 1: the 2D pseudo labels of every image, written as PNG, scored when exact 2D labels
    exist."""
    agreement = LabelAgreement(sequence.labels.class_names, skip=[0])
    for done, index in enumerate(sequence.scan_ids):
        frame = sequence.frame(index)
        if not frame.images:
            raise DataFormatError(
                sequence.file("image_2", index, ".png"), "missing", "one image per scan"
            )
        pseudo = labeller.label(sequence, index, frame.images[0])
        write_png(pseudo_image_path(sequence, index), pseudo)
        truth_2d = sequence.path / "synthetic" / "semantic_2" / f"{index:06d}.png"
        if truth_2d.exists():
            agreement.add(pseudo, read_label_image(truth_2d))
        progress(done + 1)
    if agreement.counted:
        report.image_miou = agreement.miou()
        report.image_iou = agreement.iou()
        report.image_coverage = agreement.coverage()


def _lift_to_points(
    sequence: SemanticKittiSequence,
    lifting: TemporalLifting,
    report: PseudoLabelReport,
    progress: Callable[[int], None],
) -> None:
    """Pass 2: per-point labels of every scan from the images of its window, written as .bin,
    scored when point labels exist. Only the views inside the window are kept in memory."""
    names = sequence.labels.class_names
    agreement = LabelAgreement(names, skip=[0])
    ids = sequence.scan_ids
    # Frame number -> (its scan, its labelled image); the scan being lifted is always among them.
    window: dict[int, tuple[Frame, LabelledView]] = {}

    def load(index: int) -> tuple[Frame, LabelledView]:
        frame = sequence.frame(index)
        camera = frame.cameras[0]
        pseudo = read_label_image(pseudo_image_path(sequence, index))
        if pseudo.shape != (camera.height, camera.width):
            raise DataFormatError(
                pseudo_image_path(sequence, index),
                f"{pseudo.shape[1]}x{pseudo.shape[0]} pseudo labels",
                f"the image size {camera.width}x{camera.height}",
            )
        surface = surface_depth(frame.xyz, camera, lifting.depth_cell)
        return frame, LabelledView(index, frame.pose, camera, pseudo, surface)

    for done, index in enumerate(ids):
        first, last = index - lifting.back, index + lifting.forward
        for stale in [i for i in window if i < first]:
            del window[stale]
        for needed in ids[bisect_left(ids, first) : bisect_right(ids, last)]:
            if needed not in window:
                window[needed] = load(needed)
        frame = window[index][0]
        views = [view for _, view in window.values()]
        point_labels = temporal_point_labels(
            frame.xyz, frame.pose, index, views, lifting, len(names)
        )
        atomic_write_bytes(pseudo_points_path(sequence, index), point_labels.tobytes())
        if sequence.file("labels", index, ".label").exists():
            truth, _ = sequence.point_labels(index, len(frame.points))
            truth = np.where(truth == 0, 255, truth).astype(np.uint8)
            agreement.add(point_labels, truth)
        progress(done + 1)
    if agreement.counted:
        report.point_miou = agreement.miou()
        report.point_iou = agreement.iou()
        report.point_coverage = agreement.coverage()


def _dense_voxels(
    sequence: SemanticKittiSequence,
    window: VoxelWindow,
    report: PseudoLabelReport,
    progress: Callable[[int], None],
) -> None:
    """Pass 3: dense voxel pseudo labels of every key frame, written as .npz, scored against
    the voxel ground truth."""
    names = sequence.labels.class_names
    agreement = LabelAgreement(names, skip=[0])
    occupied = covered = 0
    dense = DensePseudoLabeller(sequence, window, len(names))
    for done, index in enumerate(sequence.voxel_ids):
        labels = dense(index)
        write_voxel_pseudo_labels(pseudo_voxels_path(sequence, index), labels)
        truth = sequence.voxel_ground_truth(index).labels
        agreement.add(labels, truth)
        solid = (truth != 0) & (truth != IGNORE)
        occupied += int(np.count_nonzero(solid))
        covered += int(np.count_nonzero(solid & (labels != IGNORE)))
        progress(done + 1)
    report.voxel_frames = len(sequence.voxel_ids)
    if occupied:
        report.voxel_miou = agreement.miou()
        report.voxel_iou = agreement.iou()
        report.voxel_coverage = covered / occupied
