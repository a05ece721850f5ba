"""Write a SemanticKITTI-format sequence (real or synthetic) in the KITTI raw-data layout, so
that tools made for KITTI raw drives (pykitti, kitti2mcap) read our scenes:

    OUT/DATE/calib_cam_to_cam.txt, calib_velo_to_cam.txt, calib_imu_to_velo.txt
    OUT/DATE/DATE_drive_DRIVE_sync/image_02/{data/NNNNNNNNNN.png, timestamps.txt}
    OUT/DATE/DATE_drive_DRIVE_sync/velodyne_points/{data/NNNNNNNNNN.bin, timestamps.txt}
    OUT/DATE/DATE_drive_DRIVE_sync/oxts/{data/NNNNNNNNNN.txt, timestamps.txt}

The IMU is placed at the LiDAR (calib_imu_to_velo is the identity) and the images are already
rectified (R_rect = I, P_rect_02 = [K | 0]), so the camera extrinsic goes unchanged into
calib_velo_to_cam.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from occle_core.data.kitti_raw.oxts import poses_to_oxts
from occle_core.data.semantickitti.sequence import SemanticKittiSequence
from occle_core.io.atomic import atomic_write_bytes
from occle_core.io.images import write_png

DEFAULT_START = datetime(2011, 9, 26, 13, 0, 0)


def _matrix_line(name: str, values: np.ndarray) -> str:
    return f"{name}: " + " ".join(f"{v:.12e}" for v in np.asarray(values).ravel()) + "\n"


def _timestamps(start: datetime, seconds: np.ndarray) -> str:
    lines = []
    for s in seconds:
        moment = start + timedelta(seconds=float(s))
        nanos = round((float(s) % 1.0) * 1e9) % 1_000_000_000
        lines.append(moment.strftime("%Y-%m-%d %H:%M:%S") + f".{nanos:09d}\n")
    return "".join(lines)


def drive_dir(out: str | os.PathLike[str], date: str, drive: str) -> Path:
    return Path(out) / date / f"{date}_drive_{drive}_sync"


def write_kitti_raw(
    root: str | os.PathLike[str],
    sequence: str,
    out: str | os.PathLike[str],
    date: str = "2011_09_26",
    drive: str = "0001",
    frames: list[int] | None = None,
    start: datetime = DEFAULT_START,
) -> Path:
    """Write `sequence` of `root` as a KITTI raw drive; returns the drive folder.

    Only camera image_2 is written (as image_02); timestamps are `start` + times.txt.
    """
    seq = SemanticKittiSequence(root, sequence)
    ids = frames if frames is not None else seq.scan_ids
    first = seq.frame(ids[0])
    camera = first.cameras[0]
    date_dir = Path(out) / date
    date_dir.mkdir(parents=True, exist_ok=True)
    p_rect = np.zeros((3, 4))
    p_rect[:, :3] = camera.intrinsics
    cam_to_cam = "".join(
        _matrix_line(f"R_rect_0{i}", np.eye(3)) + _matrix_line(f"P_rect_0{i}", p_rect)
        for i in range(4)
    )
    atomic_write_bytes(date_dir / "calib_cam_to_cam.txt", cam_to_cam.encode())
    extrinsic = camera.cam_from_ref
    velo_to_cam = _matrix_line("R", extrinsic[:3, :3]) + _matrix_line("T", extrinsic[:3, 3])
    atomic_write_bytes(date_dir / "calib_velo_to_cam.txt", velo_to_cam.encode())
    identity = _matrix_line("R", np.eye(3)) + _matrix_line("T", np.zeros(3))
    atomic_write_bytes(date_dir / "calib_imu_to_velo.txt", identity.encode())
    folder = drive_dir(out, date, drive)
    for sub in ("image_02", "velodyne_points", "oxts"):
        (folder / sub / "data").mkdir(parents=True, exist_ok=True)
    seconds = seq.times[ids]
    stamps = _timestamps(start, seconds).encode()
    for sub in ("image_02", "velodyne_points", "oxts"):
        atomic_write_bytes(folder / sub / "timestamps.txt", stamps)
    packets = poses_to_oxts(np.stack([seq.poses[i] for i in ids]))
    tail = " ".join(["0"] * 19) + " 4 10 4 4 4"  # velocities, accelerations, accuracies, flags
    for n, index in enumerate(ids):
        frame = seq.frame(index)
        name = f"{n:010d}"
        atomic_write_bytes(
            folder / "velodyne_points" / "data" / f"{name}.bin",
            np.ascontiguousarray(frame.points[:, :4], dtype="<f4").tobytes(),
        )
        write_png(folder / "image_02" / "data" / f"{name}.png", frame.images[0])
        packet = " ".join(f"{v:.14f}" for v in packets[n]) + " " + tail + "\n"
        atomic_write_bytes(folder / "oxts" / "data" / f"{name}.txt", packet.encode())
    return folder
