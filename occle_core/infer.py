"""Inference from checkpoints on SemanticKITTI-layout sequences and Occ3D scenes (`occle infer`)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray

from occle_core.data.nuscenes.occ3d import write_occ3d_prediction
from occle_core.data.nuscenes.scene import Occ3DScene
from occle_core.data.semantickitti.sequence import SemanticKittiSequence, write_prediction
from occle_core.data.source import SequenceSource
from occle_core.frame import Frame
from occle_core.geometry.aggregate import aggregate_frames
from occle_core.model.inputs import PixelMapCache, prepare_inputs
from occle_core.model.occle import OccLE


@dataclass(frozen=True)
class AggregatedScans:
    """Scan t with the scans before it merged into its LiDAR frame.

    Attributes:
        frame: merged points (N, 4) with the images, cameras, pose and time of scan t.
        scans: the scan numbers merged, oldest first (t last).
        source: (N,) int32 position in `scans` of each point's scan.
    """

    frame: Frame
    scans: list[int]
    source: NDArray[np.int32]


def aggregate_scans(sequence: SequenceSource, index: int, scans: int) -> AggregatedScans:
    """Scan `index` and up to `scans - 1` scans before it, in the LiDAR frame of `index`."""
    history = [i for i in sequence.scan_ids if index - scans < i <= index]
    if not history or history[-1] != index:
        raise ValueError(f"sequence {sequence.sequence} has no scan {index}")
    frames = [sequence.frame(i, load_image=(i == index)) for i in history]
    current = frames[-1]
    merged = aggregate_frames(frames, current)
    frame = Frame(
        merged.points,
        current.images,
        current.cameras,
        current.pose,
        current.time,
        current.frame_id,
    )
    return AggregatedScans(frame, history, merged.source)


def aggregated_frame(sequence: SequenceSource, index: int, scans: int) -> Frame:
    """The merged Frame of `aggregate_scans`."""
    return aggregate_scans(sequence, index, scans).frame


def prediction_frames(sequence: SemanticKittiSequence) -> list[int]:
    """The frames a SemanticKITTI SSC submission predicts: those with a `voxels/` file (input
    `.bin` or ground truth `.label`); every 5th scan when the sequence has no voxel folder."""
    folder = sequence.path / "voxels"
    if folder.is_dir():
        ids = {int(p.stem) for p in folder.iterdir() if p.suffix in (".bin", ".label")}
        if ids:
            return sorted(i for i in ids if i in set(sequence.scan_ids))
    return [i for i in sequence.scan_ids if i % 5 == 0]


@torch.no_grad()
def predict_frames(
    model: OccLE,
    sequence: SequenceSource,
    indices: Sequence[int],
    scans: int = 3,
    device: torch.device | str = "cpu",
) -> Iterator[tuple[int, NDArray[np.uint8]]]:
    """Yield (index, (X, Y, Z) uint8 predicted training classes) for each frame."""
    model.eval()
    cache = PixelMapCache(model.config)
    for index in indices:
        frame = aggregated_frame(sequence, index, scans)
        inputs = prepare_inputs([frame], model.config, cache, device=device)
        labels = model(inputs).labels()[0].to("cpu").numpy().astype(np.uint8)
        yield index, labels


def infer_sequences(
    model: OccLE,
    root: str | os.PathLike[str],
    sequences: Sequence[str],
    out_root: str | os.PathLike[str],
    frames: Sequence[int] | None = None,
    scans: int = 3,
    device: torch.device | str = "cpu",
    progress: Callable[[str, int, int], None] = lambda *_: None,
) -> list[Path]:
    """Predict frames of `sequences` and write them in the official submission layout
    (`OUT/sequences/XX/predictions/NNNNNN.label`, raw ids via learning_map_inv).

    Args:
        frames: frame numbers to predict (default: `prediction_frames` of each sequence).
    """
    written = []
    for name in sequences:
        sequence = SemanticKittiSequence(root, name)
        indices = list(frames) if frames is not None else prediction_frames(sequence)
        for done, (index, labels) in enumerate(
            predict_frames(model, sequence, indices, scans, device)
        ):
            written.append(write_prediction(out_root, sequence.sequence, index, labels))
            progress(sequence.sequence, done + 1, len(indices))
    return written


def infer_occ3d_scenes(
    model: OccLE,
    scenes: Sequence[Occ3DScene],
    out_root: str | os.PathLike[str],
    device: torch.device | str = "cpu",
    progress: Callable[[str, int, int], None] = lambda *_: None,
) -> list[Path]:
    """Predict every key frame of Occ3D scenes (`open_occ3d_scenes`) and write the challenge's
    layout, `OUT/<token>.npz` (uint8 classes under `arr_0`), which `occle eval occ3d` scores.

    Each frame is the key sweep with the scene's configured sweeps; no earlier key frames are
    aggregated (the sweeps already are the LiDAR history).
    """
    written = []
    for scene in scenes:
        indices = scene.scan_ids
        for done, (index, labels) in enumerate(predict_frames(model, scene, indices, 1, device)):
            token = scene.token(index)
            written.append(write_occ3d_prediction(out_root, token, labels, scene.grid.shape))
            progress(scene.sequence, done + 1, len(indices))
    return written
