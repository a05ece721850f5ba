"""The nuScenes tables of synthetic surround scenes (`ROOT/v1.0-occle/*.json`), the same scenes
the info file lists, in the official release format (`occle_core.data.nuscenes.tables` reads
them). Only the tables that describe sensors, poses and files are written; there are no
annotation tables (the ground truth is Occ3D's `gts/`).

Tokens are the info file's where it has them (samples; LiDAR and key-frame camera sample_data),
so both indexes name the same things.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from occle_core.data.synthetic.surround import SurroundSceneWriter, sample_token
from occle_core.geometry.rotations import wxyz_from_rotation
from occle_core.geometry.transforms import invert_rigid
from occle_core.io.atomic import atomic_write_bytes

TABLES_FOLDER = "v1.0-occle"
LIDAR = "LIDAR_TOP"


def _token(*parts: object) -> str:
    return hashlib.sha1("/".join(str(p) for p in parts).encode()).hexdigest()[:32]


def _pose_fields(matrix: NDArray[np.float64]) -> dict[str, list[float]]:
    return {
        "translation": matrix[:3, 3].tolist(),
        "rotation": wxyz_from_rotation(matrix[:3, :3]).tolist(),
    }


def _microseconds(seconds: float) -> int:
    return round(seconds * 1e6)


def scene_tables(writer: SurroundSceneWriter) -> dict[str, list[dict[str, Any]]]:
    """The rows of one scene that `writer.run()` has written (every scan and every sensor)."""
    config, rig, scene = writer.config, writer.rig, writer.scene
    seed = config.seed
    lidar2ego = rig.vehicle_from_lidar()
    sensors: dict[str, tuple[str, NDArray[np.float64], list[list[float]]]] = {
        LIDAR: ("lidar", lidar2ego, [])
    }
    for camera in rig.cameras:
        cam2ego = lidar2ego @ invert_rigid(camera.cam_from_lidar)
        sensors[camera.name] = ("camera", cam2ego, camera.intrinsics.tolist())
    rows: dict[str, list[dict[str, Any]]] = {
        name: [] for name in ("log", "scene", "sample", "sample_data", "ego_pose")
    }
    rows["sensor"] = [
        {"token": _token("sensor", channel), "channel": channel, "modality": modality}
        for channel, (modality, _, _) in sensors.items()
    ]
    rows["calibrated_sensor"] = []
    for channel, (_, sensor2ego, intrinsics) in sensors.items():
        rows["calibrated_sensor"].append(
            {
                "token": _token(seed, scene, "calibrated_sensor", channel),
                "sensor_token": _token("sensor", channel),
                **_pose_fields(sensor2ego),
                "camera_intrinsic": intrinsics,
            }
        )
    keys = list(range(0, config.frames, config.gt_every))
    sample_tokens = [sample_token(seed, scene, k) for k in keys]
    for n, (index, token) in enumerate(zip(keys, sample_tokens, strict=True)):
        rows["sample"].append(
            {
                "token": token,
                "timestamp": _microseconds(writer.capture_time(index)),
                "prev": sample_tokens[n - 1] if n > 0 else "",
                "next": sample_tokens[n + 1] if n + 1 < len(keys) else "",
                "scene_token": _token(seed, scene, "scene"),
            }
        )
    for index in range(config.frames):
        pose_token = _token(seed, scene, index, "ego_pose")
        stamp = _microseconds(writer.capture_time(index))
        rows["ego_pose"].append(
            {"token": pose_token, "timestamp": stamp, **_pose_fields(writer.ego_pose(index))}
        )
        # nuScenes ties every sample_data to a sample: its own key frame, else the next one.
        owner = sample_tokens[min(-(-index // config.gt_every), len(keys) - 1)]
        for channel, (modality, _, _) in sensors.items():
            spec = next((c for c in rig.cameras if c.name == channel), None)
            what = "lidar" if modality == "lidar" else channel
            rows["sample_data"].append(
                {
                    "token": sample_token(seed, scene, index, what),
                    "sample_token": owner,
                    "ego_pose_token": pose_token,
                    "calibrated_sensor_token": _token(seed, scene, "calibrated_sensor", channel),
                    "timestamp": stamp,
                    "fileformat": "pcd" if spec is None else "jpg",
                    "is_key_frame": index % config.gt_every == 0,
                    "height": 0 if spec is None else spec.height,
                    "width": 0 if spec is None else spec.width,
                    "filename": writer.lidar_file(index)
                    if spec is None
                    else writer.image_file(channel, index),
                    "prev": sample_token(seed, scene, index - 1, what) if index > 0 else "",
                    "next": sample_token(seed, scene, index + 1, what)
                    if index + 1 < config.frames
                    else "",
                }
            )
    log = _token(seed, scene, "log")
    rows["log"].append(
        {
            "token": log,
            "logfile": f"occle-synthetic-{scene}",
            "vehicle": "occle-surround-rig",
            "date_captured": "2017-07-14",
            "location": "synthetic",
        }
    )
    rows["scene"].append(
        {
            "token": _token(seed, scene, "scene"),
            "log_token": log,
            "nbr_samples": len(keys),
            "first_sample_token": sample_tokens[0],
            "last_sample_token": sample_tokens[-1],
            "name": scene,
            "description": f"occle synth --layout occ3d, seed {seed}",
        }
    )
    return rows


def write_tables(root: Path, scenes: list[dict[str, list[dict[str, Any]]]]) -> Path:
    """Merge the scenes' rows (the sensor rows, shared by every scene, once) and write
    ROOT/v1.0-occle/<table>.json."""
    merged: dict[str, dict[str, dict[str, Any]]] = {}
    for scene in scenes:
        for name, rows in scene.items():
            merged.setdefault(name, {}).update((row["token"], row) for row in rows)
    folder = root / TABLES_FOLDER
    for name, by_token in merged.items():
        text = json.dumps(list(by_token.values()), indent=1)
        atomic_write_bytes(folder / f"{name}.json", text.encode())
    return folder
