"""`occle pseudo-label`: 2D pseudo labels for every image of some sequences, lifted to 3D, cached.

Cache layout (next to the dataset's own folders, so training never recomputes them)::

    ROOT/sequences/XX/pseudo_labels/image_2/NNNNNN.png   uint8 target ids, 255 = unknown
    ROOT/sequences/XX/pseudo_labels/velodyne/NNNNNN.bin  uint8 per point of the scan, 255 = unknown
    ROOT/sequences/XX/pseudo_labels/voxels/NNNNNN.npz    dense voxel pseudo labels of a key frame
    ROOT/sequences/XX/pseudo_labels/summary.json         source, settings and measured quality

An Occ3D root (`--layout occ3d`) gets the same per scene under ROOT/occle/<scene>/pseudo_labels/,
with one image folder per camera (CAM_FRONT/, ...) and frames numbered by key frame.
"""

from __future__ import annotations

import json
import os
import zlib
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from occle_core.data.semantickitti.sequence import SemanticKittiSequence
from occle_core.data.source import SequenceSource
from occle_core.errors import DataFormatError
from occle_core.frame import Frame
from occle_core.io.atomic import atomic_write_bytes
from occle_core.io.binary import read_records
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
from occle_core.pseudo.tracks import tracked_class_ids
from occle_core.pseudo.voxels import DensePseudoLabeller, VoxelWindow, movable_class_ids


class PseudoLabeller(Protocol):
    """Produces the merged 2D pseudo labels s̄ of one image of a sequence."""

    name: str

    def label(
        self, sequence: SequenceSource, index: int, camera: str, image: NDArray[np.uint8]
    ) -> NDArray[np.uint8]: ...


def exact_2d_files(sequence: SequenceSource, index: int, camera: str) -> tuple[Path, Path]:
    """Where a synthetic dataset keeps the exact 2D labels and instances of one image:
    `synthetic/semantic_2/NNNNNN.png` (+ instance_2) for image_2 of a SemanticKITTI-layout
    sequence, `ROOT/synthetic/semantic/CAM_*/<image stem>.png` (+ instance) in the Occ3D layout."""
    from occle_core.data.nuscenes.scene import Occ3DScene

    if isinstance(sequence, Occ3DScene):
        stem = Path(sequence.samples[index].cameras[camera].file).stem
        folder = sequence.root / "synthetic"
        return (
            folder / "semantic" / camera / f"{stem}.png",
            folder / "instance" / camera / f"{stem}.png",
        )
    suffix = camera.split("_")[-1]
    folder = sequence.path / "synthetic"
    return (
        folder / f"semantic_{suffix}" / f"{index:06d}.png",
        folder / f"instance_{suffix}" / f"{index:06d}.png",
    )


def _sequence_seed(sequence: SequenceSource) -> int:
    """A stable number for a sequence name ("04" -> 4, a scene name -> its CRC32)."""
    name = sequence.sequence
    return int(name) if name.isdigit() else zlib.crc32(name.encode())


class SimulatedLabeller:
    """The simulated foundation model on a synthetic sequence (reads its exact 2D labels).

    Args:
        alignment: class alignment of the target label set.
        errors: error rates.
        seed: the errors of image (sequence, index, camera) depend only on those and the seed.
    """

    def __init__(self, alignment: ClassAlignment, errors: SimulatedErrors | None, seed: int):
        self.model = SimulatedFoundationModel(alignment, errors)
        self.seed = seed
        self.name = SimulatedFoundationModel.name

    def label(
        self, sequence: SequenceSource, index: int, camera: str, image: NDArray[np.uint8]
    ) -> NDArray[np.uint8]:
        semantic_file, instance_file = exact_2d_files(sequence, index, camera)
        if not semantic_file.exists() or not instance_file.exists():
            raise DataFormatError(
                semantic_file.parent,
                "no exact 2D labels (synthetic semantic and instance images)",
                "a synthetic dataset written by `occle synth`: the simulated foundation model "
                "only works there; use --source transformers on real data",
            )
        semantic = read_label_image(semantic_file)
        instance = read_uint16_image(instance_file, "instance image")
        # The first camera keeps the seeds of the single-camera datasets (and their figures).
        stream = [self.seed, _sequence_seed(sequence), index]
        if camera != "image_2":
            stream.append(zlib.crc32(camera.encode()))
        return self.model(semantic, instance, np.random.default_rng(stream))


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
        voxel_empty_precision: share of the voxels marked empty that the ground truth calls
            empty (of those it labels).
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
    voxel_empty_precision: float | None = None


def generate_pseudo_labels(
    root: str | os.PathLike[str],
    sequences: Sequence[str],
    labeller: PseudoLabeller,
    settings: dict[str, Any] | None = None,
    progress: Callable[[str, int, int], None] = lambda *_: None,
    lifting: TemporalLifting | None = None,
    voxel_window: VoxelWindow | None = None,
    opened: Sequence[SequenceSource] | None = None,
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
        opened: the sequences already opened (another layout, e.g. Occ3D scenes); `root` and
            `sequences` then only name them.

    Returns:
        One report per sequence (also written to its summary.json).
    """
    lifting = lifting or TemporalLifting()
    voxel_window = voxel_window or VoxelWindow()
    reports = []
    sources = (
        list(opened) if opened is not None else [SemanticKittiSequence(root, n) for n in sequences]
    )
    for sequence in sources:
        name = sequence.sequence
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
    sequence: SequenceSource,
    labeller: PseudoLabeller,
    report: PseudoLabelReport,
    progress: Callable[[int], None],
) -> None:
    """Pass 1: the 2D pseudo labels of every image of every camera, written as PNG, scored
    when exact 2D labels exist."""
    empty = sequence.labels.empty_label
    agreement = LabelAgreement(sequence.labels.class_names, skip=[empty])
    for done, index in enumerate(sequence.scan_ids):
        frame = sequence.frame(index)
        if not frame.images:
            raise DataFormatError(
                f"{sequence.path} frame {index}", "no camera image", "one image per camera"
            )
        for camera, image in zip(frame.cameras, frame.images, strict=True):
            pseudo = labeller.label(sequence, index, camera.name, image)
            write_png(pseudo_image_path(sequence, index, camera.name), pseudo)
            truth_2d = exact_2d_files(sequence, index, camera.name)[0]
            if truth_2d.exists():
                agreement.add(pseudo, read_label_image(truth_2d))
        progress(done + 1)
    if agreement.counted:
        report.image_miou = agreement.miou()
        report.image_iou = agreement.iou()
        report.image_coverage = agreement.coverage()


def _point_truth(sequence: SequenceSource, index: int, frame: Frame) -> NDArray[np.uint8] | None:
    """Exact per-point classes of frame `index` where the dataset has them (255 elsewhere and
    on the empty class), or None: SemanticKITTI point labels; in the synthetic Occ3D layout the
    classes of the key sweep (the first points of the frame)."""
    from occle_core.data.nuscenes.scene import Occ3DScene

    empty = sequence.labels.empty_label
    if isinstance(sequence, Occ3DScene):
        stem = Path(sequence.samples[index].lidar_file).name.replace(".pcd.bin", ".label")
        file = sequence.root / "synthetic" / "points" / stem
        if not file.exists():
            return None
        key = read_records(file, np.uint8, 1, "synthetic point classes (uint8 per return)")
        truth = np.full(len(frame.points), IGNORE, dtype=np.uint8)
        truth[: len(key)] = key[: len(frame.points)]
    elif isinstance(sequence, SemanticKittiSequence):
        if not sequence.file("labels", index, ".label").exists():
            return None
        truth, _ = sequence.point_labels(index, len(frame.points))
    else:
        return None
    return np.where(truth == empty, IGNORE, truth).astype(np.uint8)


def _lift_to_points(
    sequence: SequenceSource,
    lifting: TemporalLifting,
    report: PseudoLabelReport,
    progress: Callable[[int], None],
) -> None:
    """Pass 2: per-point labels of every scan from the images of every camera of its window,
    written as .bin, scored when point labels exist. Only the views inside the window are kept
    in memory."""
    names = sequence.labels.class_names
    agreement = LabelAgreement(names, skip=[sequence.labels.empty_label])
    ids = sequence.scan_ids
    # Frame number -> (its scan, one labelled view per camera); the scan being lifted is always
    # among them.
    window: dict[int, tuple[Frame, list[LabelledView]]] = {}

    def load(index: int) -> tuple[Frame, list[LabelledView]]:
        frame = sequence.frame(index)
        views = []
        for camera in frame.cameras:
            path = pseudo_image_path(sequence, index, camera.name)
            pseudo = read_label_image(path)
            if pseudo.shape != (camera.height, camera.width):
                raise DataFormatError(
                    path,
                    f"{pseudo.shape[1]}x{pseudo.shape[0]} pseudo labels",
                    f"the image size {camera.width}x{camera.height}",
                )
            surface = surface_depth(frame.xyz, camera, lifting.depth_cell)
            views.append(LabelledView(index, frame.pose, camera, pseudo, surface))
        return frame, views

    for done, index in enumerate(ids):
        first, last = index - lifting.back, index + lifting.forward
        for stale in [i for i in window if i < first]:
            del window[stale]
        for needed in ids[bisect_left(ids, first) : bisect_right(ids, last)]:
            if needed not in window:
                window[needed] = load(needed)
        frame = window[index][0]
        views = [view for _, frame_views in window.values() for view in frame_views]
        point_labels = temporal_point_labels(
            frame.xyz, frame.pose, index, views, lifting, len(names)
        )
        atomic_write_bytes(pseudo_points_path(sequence, index), point_labels.tobytes())
        truth = _point_truth(sequence, index, frame)
        if truth is not None:
            agreement.add(point_labels, truth)
        progress(done + 1)
    if agreement.counted:
        report.point_miou = agreement.miou()
        report.point_iou = agreement.iou()
        report.point_coverage = agreement.coverage()


def _dense_voxels(
    sequence: SequenceSource,
    window: VoxelWindow,
    report: PseudoLabelReport,
    progress: Callable[[int], None],
) -> None:
    """Pass 3: dense voxel pseudo labels of every key frame, written as .npz, scored against
    the voxel ground truth."""
    names = sequence.labels.class_names
    empty_label = sequence.labels.empty_label
    agreement = LabelAgreement(names, skip=[empty_label])
    occupied = covered = marked_empty = truly_empty = 0
    dense = DensePseudoLabeller(
        sequence,
        window,
        len(names),
        empty_label=empty_label,
        movable=movable_class_ids(names),
        tracked=tracked_class_ids(names),
    )
    for done, index in enumerate(sequence.voxel_ids):
        labels = dense(index)
        write_voxel_pseudo_labels(pseudo_voxels_path(sequence, index), labels)
        truth = sequence.voxel_ground_truth(index).labels
        agreement.add(labels, truth)
        solid = (truth != empty_label) & (truth != IGNORE)
        occupied += int(np.count_nonzero(solid))
        covered += int(np.count_nonzero(solid & (labels != IGNORE) & (labels != empty_label)))
        empty = (labels == empty_label) & (truth != IGNORE)
        marked_empty += int(np.count_nonzero(empty))
        truly_empty += int(np.count_nonzero(empty & (truth == empty_label)))
        progress(done + 1)
    report.voxel_frames = len(sequence.voxel_ids)
    if occupied:
        report.voxel_miou = agreement.miou()
        report.voxel_iou = agreement.iou()
        report.voxel_coverage = covered / occupied
    if marked_empty:
        report.voxel_empty_precision = truly_empty / marked_empty
