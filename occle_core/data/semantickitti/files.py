"""Per-file readers and writers of the SemanticKITTI binary formats.

Voxel grids are 256 x 256 x 32 (x forward, y left, z up; see occle_core.geometry.grid) stored in
C order. Binary masks (`.bin` occupancy, `.invalid`, `.occluded`) pack 8 voxels per byte, most
significant bit first (numpy's `packbits` default order); `.label` grids are uint16 raw ids.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from occle_core.errors import DataFormatError
from occle_core.geometry.grid import SEMANTICKITTI_GRID
from occle_core.io.binary import read_records, write_array

Path_ = str | os.PathLike[str]
_SSC_SHAPE: tuple[int, int, int] = SEMANTICKITTI_GRID.shape


def read_velodyne(path: Path_) -> NDArray[np.float32]:
    """Read a KITTI velodyne scan.

    Returns:
        (N, 4) float32 x, y, z (metres, velodyne frame: x forward, y left, z up), reflectance.
    """
    return read_records(path, np.float32, 4, "velodyne scan (float32 x, y, z, reflectance)")


def write_velodyne(path: Path_, points: NDArray[np.floating]) -> None:
    """Write (N, 4) points as a KITTI velodyne `.bin`."""
    if points.ndim != 2 or points.shape[1] != 4:
        raise ValueError(f"write_velodyne({path}): points shape {points.shape}, expected (N, 4)")
    write_array(path, points, np.float32)


def read_point_labels(
    path: Path_, num_points: int | None = None
) -> tuple[NDArray[np.uint16], NDArray[np.uint16]]:
    """Read a SemanticKITTI point `.label` file.

    Args:
        path: the label file.
        num_points: number of points of the matching scan; checked when given.

    Returns:
        semantic: (N,) uint16 raw semantic ids (lower 16 bits).
        instance: (N,) uint16 instance ids (upper 16 bits).
    """
    raw = read_records(path, np.uint32, 1, "point labels (uint32)", num_points)
    return (raw & 0xFFFF).astype(np.uint16), (raw >> 16).astype(np.uint16)


def write_point_labels(
    path: Path_, semantic: NDArray[np.integer], instance: NDArray[np.integer] | None = None
) -> None:
    """Write per-point raw semantic ids (and instance ids) as a `.label` file."""
    sem = np.asarray(semantic, dtype=np.uint32)
    inst = np.zeros_like(sem) if instance is None else np.asarray(instance, dtype=np.uint32)
    if sem.shape != inst.shape or sem.ndim != 1:
        raise ValueError(
            f"write_point_labels({path}): semantic {sem.shape} / instance {inst.shape}"
        )
    if (sem > 0xFFFF).any() or (inst > 0xFFFF).any():
        raise ValueError(f"write_point_labels({path}): ids must fit in 16 bits")
    write_array(path, sem | (inst << 16), np.uint32)


def read_voxel_bits(path: Path_, shape: Sequence[int] = _SSC_SHAPE) -> NDArray[np.bool_]:
    """Read a bit-packed voxel mask (`.bin`, `.invalid`, `.occluded`).

    Returns:
        Boolean grid of `shape` (default 256 x 256 x 32, indexed [x, y, z]).
    """
    count = int(np.prod(shape))
    if count % 8:
        raise ValueError(f"read_voxel_bits: {count} voxels is not a multiple of 8")
    packed = read_records(path, np.uint8, 1, "bit-packed voxel mask", count // 8)
    return np.unpackbits(packed).astype(bool).reshape(tuple(shape))


def write_voxel_bits(path: Path_, mask: NDArray[np.bool_]) -> None:
    """Write a boolean voxel grid bit-packed, MSB first, in C order."""
    if mask.size % 8:
        raise ValueError(f"write_voxel_bits({path}): {mask.size} voxels is not a multiple of 8")
    write_array(path, np.packbits(np.asarray(mask, dtype=bool).ravel()), np.uint8)


def read_voxel_labels(path: Path_, shape: Sequence[int] = _SSC_SHAPE) -> NDArray[np.uint16]:
    """Read a voxel `.label` grid of uint16 raw ids, shaped `shape`."""
    count = int(np.prod(shape))
    return read_records(path, np.uint16, 1, "voxel labels (uint16)", count).reshape(tuple(shape))


def write_voxel_labels(path: Path_, labels: NDArray[np.integer]) -> None:
    """Write a grid of raw ids as uint16 in C order."""
    array = np.asarray(labels)
    if array.size and (array.min() < 0 or array.max() > 0xFFFF):
        raise DataFormatError(path, f"label ids {array.min()}..{array.max()} do not fit uint16")
    write_array(path, array, np.uint16)
