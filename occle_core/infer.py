"""Inference from checkpoints on SemanticKITTI-layout sequences and Occ3D scenes (`occle infer`)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray

from occle_core.data.nuscenes.occ3d import write_occ3d_prediction
from occle_core.data.nuscenes.scene import Occ3DScene
from occle_core.data.semantickitti.sequence import SemanticKittiSequence, write_prediction
from occle_core.data.source import SequenceSource
from occle_core.model.occle import OccLE
from occle_core.runtime.runner import ModelRunner


def prediction_frames(sequence: SemanticKittiSequence) -> list[int]:
    """The frames a SemanticKITTI SSC submission predicts: those with a `voxels/` file (input
    `.bin` or ground truth `.label`); every 5th scan when the sequence has no voxel folder."""
    folder = sequence.path / "voxels"
    if folder.is_dir():
        ids = {int(p.stem) for p in folder.iterdir() if p.suffix in (".bin", ".label")}
        if ids:
            return sorted(i for i in ids if i in set(sequence.scan_ids))
    return [i for i in sequence.scan_ids if i % 5 == 0]


def predict_frames(
    model: OccLE,
    sequence: SequenceSource,
    indices: Sequence[int],
    scans: int = 3,
    device: torch.device | str = "cpu",
) -> Iterator[tuple[int, NDArray[np.uint8]]]:
    """Yield (index, (X, Y, Z) uint8 predicted training classes) for each frame (through
    `ModelRunner.predict_sequence`, the one inference path)."""
    runner = ModelRunner(model, torch.device(device))
    yield from runner.predict_sequence(sequence, indices, scans)


def infer_sequences(
    runner: ModelRunner,
    root: str | os.PathLike[str],
    sequences: Sequence[str],
    out_root: str | os.PathLike[str],
    frames: Sequence[int] | None = None,
    scans: int = 3,
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
        for done, (index, labels) in enumerate(runner.predict_sequence(sequence, indices, scans)):
            written.append(write_prediction(out_root, sequence.sequence, index, labels))
            progress(sequence.sequence, done + 1, len(indices))
    return written


def infer_occ3d_scenes(
    runner: ModelRunner,
    scenes: Sequence[Occ3DScene],
    out_root: str | os.PathLike[str],
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
        for done, (index, labels) in enumerate(runner.predict_sequence(scene, indices, 1)):
            token = scene.token(index)
            written.append(write_occ3d_prediction(out_root, token, labels, scene.grid.shape))
            progress(scene.sequence, done + 1, len(indices))
    return written
