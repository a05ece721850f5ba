"""Where `occle pseudo-label` caches its results, and how they are read back.

Layout, next to the dataset's own folders::

    ROOT/sequences/XX/pseudo_labels/image_2/NNNNNN.png   uint8 target ids, 255 = unknown
    ROOT/sequences/XX/pseudo_labels/velodyne/NNNNNN.bin  uint8 per point of the scan, 255 = unknown
    ROOT/sequences/XX/pseudo_labels/voxels/NNNNNN.npz    dense voxel pseudo labels of a key frame
    ROOT/sequences/XX/pseudo_labels/summary.json         source, settings and measured quality
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from occle_core.data.source import SequenceSource
from occle_core.errors import DataFormatError
from occle_core.io.atomic import atomic_write_bytes
from occle_core.io.binary import read_bytes

PSEUDO_DIR = "pseudo_labels"
VOXELS_KEY = "labels"


def pseudo_image_path(sequence: SequenceSource, index: int, image: str = "image_2") -> Path:
    return sequence.path / PSEUDO_DIR / image / f"{index:06d}.png"


def pseudo_points_path(sequence: SequenceSource, index: int) -> Path:
    return sequence.path / PSEUDO_DIR / "velodyne" / f"{index:06d}.bin"


def pseudo_voxels_path(sequence: SequenceSource, index: int) -> Path:
    return sequence.path / PSEUDO_DIR / "voxels" / f"{index:06d}.npz"


def read_point_pseudo_labels(path: str | os.PathLike[str], num_points: int) -> NDArray[np.uint8]:
    """The cached per-point pseudo labels of a scan with `num_points` points."""
    data = read_bytes(path, "point pseudo labels")
    if len(data) != num_points:
        raise DataFormatError(
            path, f"{len(data)} labels for a scan of {num_points} points", "one uint8 per point"
        )
    return np.frombuffer(data, dtype=np.uint8).copy()


def write_voxel_pseudo_labels(path: str | os.PathLike[str], labels: NDArray[np.uint8]) -> None:
    """Write a dense (X, Y, Z) uint8 pseudo-label grid, compressed (mostly 255), atomically."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, labels=np.asarray(labels, dtype=np.uint8))  # key: VOXELS_KEY
    atomic_write_bytes(path, buffer.getvalue())


def read_voxel_pseudo_labels(
    path: str | os.PathLike[str], shape: tuple[int, int, int]
) -> NDArray[np.uint8]:
    """The dense pseudo-label grid cached at `path`, checked against the dataset's grid shape."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            if VOXELS_KEY not in archive.files:
                raise DataFormatError(path, f"keys {archive.files}", f"an array '{VOXELS_KEY}'")
            labels = archive[VOXELS_KEY]
    except FileNotFoundError:
        raise DataFormatError(
            path, "missing", "dense voxel pseudo labels: run `occle pseudo-label` again"
        ) from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise DataFormatError(path, f"unreadable ({error})", "an .npz archive") from None
    if labels.shape != tuple(shape) or labels.dtype != np.uint8:
        raise DataFormatError(
            path, f"{labels.dtype} grid of shape {labels.shape}", f"uint8 of shape {tuple(shape)}"
        )
    return labels
