"""Writers leave nothing half-written: a failure at any point of a write (the rename, the
fsync, half of the bytes, the encoder) keeps the previous file or leaves no file at all."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from occle_core.data.nuscenes.occ3d import (
    Occ3DLabels,
    write_occ3d_labels,
    write_occ3d_prediction,
)
from occle_core.data.semantickitti.calib import KittiCalibration, write_calib
from occle_core.data.semantickitti.files import (
    write_point_labels,
    write_velodyne,
    write_voxel_bits,
    write_voxel_labels,
)
from occle_core.data.semantickitti.poses import write_poses, write_times
from occle_core.data.semantickitti.sequence import write_prediction
from occle_core.io.atomic import atomic_write
from occle_core.io.images import write_png

SSC = (256, 256, 32)
OCC = (200, 200, 16)
SMALL = (4, 4, 2)  # 32 voxels: 4 bytes of bits, 64 bytes of uint16 labels

TR_ROTATION = np.array([[0.0, -1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]])
TR = np.eye(4)
TR[:3, :3] = TR_ROTATION


# --- atomic writes --------------------------------------------------------------------------------
def occ3d_labels_of(value: int) -> Occ3DLabels:
    return Occ3DLabels(np.full(OCC, value, np.uint8), np.ones(OCC, bool), np.zeros(OCC, bool))


def kitti_calib_of(value: float) -> KittiCalibration:
    return KittiCalibration(
        {k: np.full((3, 4), value) for k in ("P0", "P1", "P2", "P3")}, np.eye(4)
    )


# Each writer: write(folder, version) -> the destination file.
WRITERS: dict[str, Callable[[Path, int], Path]] = {
    "velodyne": lambda d, v: (
        write_velodyne(d / "s.bin", np.full((8, 4), v, np.float32)),
        d / "s.bin",
    )[1],
    "point_labels": lambda d, v: (write_point_labels(d / "s.label", np.full(9, v)), d / "s.label")[
        1
    ],
    "voxel_bits": lambda d, v: (
        write_voxel_bits(d / "v.bin", np.full(SMALL, v % 2 == 1)),
        d / "v.bin",
    )[1],
    "voxel_labels": lambda d, v: (
        write_voxel_labels(d / "v.label", np.full(SMALL, v)),
        d / "v.label",
    )[1],
    "calib": lambda d, v: (write_calib(d / "calib.txt", kitti_calib_of(v)), d / "calib.txt")[1],
    "poses": lambda d, v: (
        write_poses(d / "poses.txt", np.tile(np.eye(4) * v, (3, 1, 1)), TR),
        d / "poses.txt",
    )[1],
    "times": lambda d, v: (write_times(d / "times.txt", np.arange(5) * v), d / "times.txt")[1],
    "prediction": lambda d, v: write_prediction(d, 0, 7, np.full(SSC, v, np.uint8)),
    "occ3d_labels": lambda d, v: (
        write_occ3d_labels(d / "labels.npz", occ3d_labels_of(v)),
        d / "labels.npz",
    )[1],
    "occ3d_prediction": lambda d, v: write_occ3d_prediction(d, "tok", np.full(OCC, v, np.uint8)),
    "png": lambda d, v: (write_png(d / "i.png", np.full((4, 6, 3), v, np.uint8)), d / "i.png")[1],
}


class HalfWriter:
    """A stream that writes half of what it is given, then fails like a full disk."""

    def __init__(self, stream: Any):
        self._stream = stream

    def write(self, data: bytes) -> int:
        self._stream.write(bytes(data)[: len(data) // 2])
        self._stream.flush()
        raise OSError(28, "No space left on device")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def __enter__(self) -> HalfWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stream.close()


def inject_failure(monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(5, f"injected {mode} failure")

    if mode == "replace":
        monkeypatch.setattr(os, "replace", fail)
    elif mode == "fsync":
        monkeypatch.setattr(os, "fsync", fail)
    else:
        real_fdopen = os.fdopen
        monkeypatch.setattr(os, "fdopen", lambda fd, *a, **k: HalfWriter(real_fdopen(fd, *a, **k)))


def folder_listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize("mode", ["replace", "fsync", "half_write"])
@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_failed_write_keeps_the_previous_file(
    writer: str, mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write = WRITERS[writer]
    destination = write(tmp_path, 1)
    before = destination.read_bytes()
    listing = folder_listing(tmp_path)
    assert destination.stat().st_mode & 0o777 == 0o644
    with monkeypatch.context() as patch:
        inject_failure(patch, mode)
        with pytest.raises(OSError, match=r"injected|No space left"):
            write(tmp_path, 2)
    assert destination.read_bytes() == before
    assert folder_listing(tmp_path) == listing  # no temporary file left behind
    # The writer works again once the fault is gone, and the content changes.
    assert write(tmp_path, 2).read_bytes() != before
    assert folder_listing(tmp_path) == listing


@pytest.mark.parametrize("mode", ["replace", "half_write"])
def test_failed_first_write_leaves_nothing(
    mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        inject_failure(patch, mode)
        with pytest.raises(OSError):
            write_velodyne(tmp_path / "new/000000.bin", np.zeros((4, 4), np.float32))
    assert folder_listing(tmp_path) == ["new"]  # the folder is made, no file in it


def test_failing_encoder_keeps_the_previous_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    destination = WRITERS["occ3d_labels"](tmp_path, 1)
    before = destination.read_bytes()

    def broken_savez(*args: object, **kwargs: object) -> None:
        raise MemoryError("encoder failed")

    monkeypatch.setattr(np, "savez_compressed", broken_savez)
    with pytest.raises(MemoryError):
        WRITERS["occ3d_labels"](tmp_path, 2)
    assert destination.read_bytes() == before and folder_listing(tmp_path) == ["labels.npz"]


def test_atomic_write_block_raising_mid_way(tmp_path: Path) -> None:
    destination = tmp_path / "file.bin"
    destination.write_bytes(b"old content")
    with pytest.raises(RuntimeError, match="stop"), atomic_write(destination) as stream:
        stream.write(b"new half")
        raise RuntimeError("stop")
    assert destination.read_bytes() == b"old content"
    assert folder_listing(tmp_path) == ["file.bin"]
    with atomic_write(destination) as stream:
        stream.write(b"new content")
    assert destination.read_bytes() == b"new content"
    assert folder_listing(tmp_path) == ["file.bin"]
