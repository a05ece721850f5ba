"""`occle pseudo-label`: 2D pseudo labels for every image of some sequences, lifted to 3D, cached.

Cache layout (next to the dataset's own folders, so training never recomputes them)::

    ROOT/sequences/XX/pseudo_labels/image_2/NNNNNN.png   uint8 target ids, 255 = unknown
    ROOT/sequences/XX/pseudo_labels/velodyne/NNNNNN.bin  uint8 per point of the scan, 255 = unknown
    ROOT/sequences/XX/pseudo_labels/summary.json         source, settings and measured quality
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from occle_core.data.semantickitti.sequence import SemanticKittiSequence
from occle_core.errors import DataFormatError
from occle_core.io.atomic import atomic_write_bytes
from occle_core.io.binary import read_bytes
from occle_core.io.images import read_label_image, read_uint16_image, write_png
from occle_core.pseudo.alignment import ClassAlignment
from occle_core.pseudo.lifting import point_pseudo_labels
from occle_core.pseudo.quality import LabelAgreement
from occle_core.pseudo.simulated import SimulatedErrors, SimulatedFoundationModel

PSEUDO_DIR = "pseudo_labels"


def pseudo_image_path(sequence: SemanticKittiSequence, index: int, image: str = "image_2") -> Path:
    return sequence.path / PSEUDO_DIR / image / f"{index:06d}.png"


def pseudo_points_path(sequence: SemanticKittiSequence, index: int) -> Path:
    return sequence.path / PSEUDO_DIR / "velodyne" / f"{index:06d}.bin"


def read_point_pseudo_labels(path: str | os.PathLike[str], num_points: int) -> NDArray[np.uint8]:
    """The cached per-point pseudo labels of a scan with `num_points` points."""
    data = read_bytes(path, "point pseudo labels")
    if len(data) != num_points:
        raise DataFormatError(
            path, f"{len(data)} labels for a scan of {num_points} points", "one uint8 per point"
        )
    return np.frombuffer(data, dtype=np.uint8).copy()


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
        point_coverage: share of labelled points that got a pseudo label (the rest are
            outside the camera).
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


def generate_pseudo_labels(
    root: str | os.PathLike[str],
    sequences: Sequence[str],
    labeller: PseudoLabeller,
    settings: dict[str, Any] | None = None,
    progress: Callable[[str, int, int], None] = lambda *_: None,
) -> list[PseudoLabelReport]:
    """Label every image of `sequences`, lift to the scans, write the cache and a summary.

    Args:
        root: SemanticKITTI-layout dataset root.
        sequences: sequence names.
        labeller: where s̄ comes from.
        settings: recorded in each summary.json (seeds, error rates, model paths).
        progress: called as (sequence, done, total).

    Returns:
        One report per sequence (also written to its summary.json).
    """
    reports = []
    for name in sequences:
        sequence = SemanticKittiSequence(root, name)
        names = sequence.labels.class_names
        images = LabelAgreement(names, skip=[0])
        points_agreement = LabelAgreement(names, skip=[0])
        has_images = has_points = False
        ids = sequence.scan_ids
        for done, index in enumerate(ids):
            frame = sequence.frame(index)
            if not frame.images:
                raise DataFormatError(
                    sequence.file("image_2", index, ".png"), "missing", "one image per scan"
                )
            pseudo = labeller.label(sequence, index, frame.images[0])
            write_png(pseudo_image_path(sequence, index), pseudo)
            point_labels = point_pseudo_labels(frame.xyz, frame.cameras[0], pseudo)
            atomic_write_bytes(pseudo_points_path(sequence, index), point_labels.tobytes())
            truth_2d = sequence.path / "synthetic" / "semantic_2" / f"{index:06d}.png"
            if truth_2d.exists():
                images.add(pseudo, read_label_image(truth_2d))
                has_images = True
            if sequence.file("labels", index, ".label").exists():
                truth, _ = sequence.point_labels(index, len(frame.points))
                truth = np.where(truth == 0, 255, truth).astype(np.uint8)
                points_agreement.add(point_labels, truth)
                has_points = True
            progress(sequence.sequence, done + 1, len(ids))
        report = PseudoLabelReport(sequence.sequence, labeller.name, frames=len(ids))
        if has_images:
            report.image_miou = images.miou()
            report.image_iou = images.iou()
            report.image_coverage = images.coverage()
        if has_points:
            report.point_miou = points_agreement.miou()
            report.point_iou = points_agreement.iou()
            report.point_coverage = points_agreement.coverage()
        summary = {**asdict(report), "settings": settings or {}}
        atomic_write_bytes(
            sequence.path / PSEUDO_DIR / "summary.json",
            json.dumps(summary, indent=2).encode("utf-8"),
        )
        reports.append(report)
    return reports
