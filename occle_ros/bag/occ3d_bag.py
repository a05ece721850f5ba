"""One scene of a nuScenes / Occ3D-nuScenes root -> the rosbag2 a nuScenes-like robot records:
every LiDAR sweep at its own time, the six key-frame images, their CameraInfo, and TF.

nuScenes keeps its LiDAR at 20 Hz (the synthetic surround rig at 10 Hz) and annotates key frames
at 2 Hz. The bag carries all of them as a driver would publish them:

* `/LIDAR_TOP` (PointCloud2 in `LIDAR_TOP`): the key sweep of every sample and the sweeps the
  info file lists before it, in time order, each once;
* `/<CAM>/image_rect_compressed` (the JPEG files unchanged) and `/<CAM>/camera_info`, at the
  key frames (the info files list no other images), stamped with each camera's own time;
* `/tf`: `map -> base_link` (the ego pose) at every sweep and every image's time (nuScenes'
  cameras fire up to 45 ms away from the LiDAR, the vehicle moves up to 0.4 m meanwhile);
  `/tf_static`: `base_link -> LIDAR_TOP` and `base_link -> <CAM>` (optical frame), the
  mountings, the same for every sample of the scene;
* `/occle/source`: JSON naming the root, info file and scene, for `occle bag-eval --gt`.

The topic and frame names match config/occle_nuscenes.yaml. A node with `input.scans` = 1 + N
then aggregates the same sweeps as training with `sweeps: N`, and with
`tf.camera_time_compensation` places each camera where the info file's `lidar2cam` does.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from PIL import Image as PilImage

from occle_core.data.nuscenes.sample import (
    NUSCENES_CAMERAS,
    NuScenesCalibration,
    read_nuscenes_lidar,
)
from occle_core.data.nuscenes.scene import open_occ3d_scenes
from occle_core.errors import DataFormatError
from occle_core.geometry.transforms import invert_rigid
from occle_ros.bag.to_bag import connect_common_topics, write_source
from occle_ros.bag.writer import AtomicBagWriter
from occle_ros.conversions.camera import camera_info_message
from occle_ros.conversions.pointcloud import array_to_cloud
from occle_ros.conversions.transform import transform_stamped
from occle_ros.messages import RosbagsFactory, header

#: Calibration of the same sensor may differ this much between key frames (metres, or the
#: largest rotation-matrix entry) before the scene is refused: /tf_static holds one value.
_EXTRINSIC_TOLERANCE = 1e-3


@dataclass(frozen=True)
class NuScenesBagTopics:
    """Topic and frame names of `write_occ3d_scene_bag` (those of config/occle_nuscenes.yaml)."""

    cloud: str = "/LIDAR_TOP"
    image: str = "/{camera}/image_rect_compressed"
    camera_info: str = "/{camera}/camera_info"
    lidar_frame: str = "LIDAR_TOP"
    ego_frame: str = "base_link"
    world_frame: str = "map"


def _stamp(seconds: float) -> int:
    return round(seconds * 1e9)


def _same_extrinsic(a: NDArray[np.float64], b: NDArray[np.float64]) -> bool:
    return bool(np.abs(a - b).max() <= _EXTRINSIC_TOLERANCE)


def write_occ3d_scene_bag(
    root: str | os.PathLike[str],
    info_file: str | os.PathLike[str],
    scene: str,
    out: str | os.PathLike[str],
    storage: Literal["mcap", "sqlite3"] = "mcap",
    topics: NuScenesBagTopics = NuScenesBagTopics(),
    distro: str = "humble",
    cameras: tuple[str, ...] = NUSCENES_CAMERAS,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> Path:
    """Write a rosbag2 folder of one scene (see the module docstring for its content).

    Args:
        root: nuScenes data root (samples/, sweeps/, gts/).
        info_file: the info file listing the scene (relative to `root` or absolute).
        scene: scene name.
        out: bag folder to create (written by `AtomicBagWriter`: complete, or not at all).
        cameras: cameras to write, in this order.
        progress: called as (key frames done, key frames).

    Raises:
        FileExistsError: `out` exists.
        DataFormatError: the scene is not in the info file, a camera has no recorded mounting
            (`cam2ego`), or a mounting changes between key frames (one /tf_static holds it).
    """
    (opened,) = open_occ3d_scenes(root, info_file, [scene])
    samples = opened.samples
    mounting = _scene_mounting(info_file, samples, cameras)
    bag = AtomicBagWriter(out, storage, distro)
    factory = RosbagsFactory(bag.store)
    base = Path(root)
    events = _events_in_time_order(samples, cameras)
    with bag:
        bag.connect(topics.cloud, "sensor_msgs/msg/PointCloud2")
        for name in cameras:
            bag.connect(topics.image.format(camera=name), "sensor_msgs/msg/CompressedImage")
            bag.connect(topics.camera_info.format(camera=name), "sensor_msgs/msg/CameraInfo")
        connect_common_topics(bag)
        start = events[0].stamp_ns
        statics = [
            transform_stamped(factory, matrix, start, topics.ego_frame, child)
            for child, matrix in mounting.items()
        ]
        bag.write("/tf_static", start, factory.new("tf2_msgs/msg/TFMessage", transforms=statics))
        source = {
            "layout": "occ3d",
            "dataset": str(base.resolve()),
            "info_file": str(Path(info_file)),
            "sequence": scene,
        }
        write_source(bag, factory, start, source)
        done, posed = 0, -1
        for event in events:
            stamp = event.stamp_ns
            if stamp != posed:  # one ego pose per instant (sensors firing together share it)
                pose = transform_stamped(
                    factory, event.ego2global, stamp, topics.world_frame, topics.ego_frame
                )
                bag.write("/tf", stamp, factory.new("tf2_msgs/msg/TFMessage", transforms=[pose]))
                posed = stamp
            if event.camera:
                _write_camera(bag, factory, topics, event.camera, base / event.file,
                              event.intrinsics, stamp)  # fmt: skip
                continue
            points = read_nuscenes_lidar(base / event.file)
            message = array_to_cloud(factory, points, stamp, topics.lidar_frame)
            bag.write(topics.cloud, stamp, message)
            if event.key:
                done += 1
                progress(done, len(samples))
    return bag.out


def _scene_mounting(
    info_file: str | os.PathLike[str],
    samples: list[NuScenesCalibration],
    cameras: tuple[str, ...],
) -> dict[str, NDArray[np.float64]]:
    """Child frame -> base_link <- child of the LiDAR and every camera, the same for every
    sample of the scene (one /tf_static holds them).

    Raises:
        DataFormatError: a camera missing from a sample or without its mounting (`cam2ego`),
            or a mounting that changes within the scene.
    """
    first = samples[0]
    mounting = {"LIDAR_TOP": first.lidar2ego}
    for name in cameras:
        camera = first.cameras.get(name)
        if camera is None or camera.cam2ego is None:
            raise DataFormatError(
                info_file,
                f"sample {first.sample_token}: no {name} mounting",
                "cam2ego (v1.1), sensor2ego_* (legacy) or calibrated_sensor (tables)",
            )
        mounting[name] = camera.cam2ego
    for sample in samples:
        for name, expected in mounting.items():
            if name == "LIDAR_TOP":
                actual: NDArray[np.float64] | None = sample.lidar2ego
            else:
                camera = sample.cameras.get(name)
                actual = None if camera is None else camera.cam2ego
            if actual is None or not _same_extrinsic(actual, expected):
                raise DataFormatError(
                    info_file,
                    f"sample {sample.sample_token}: {name} mounting differs from the first one's",
                    "one mounting per sensor in a scene",
                )
    return mounting


@dataclass(frozen=True)
class _Event:
    """One sensor message to write: a LiDAR sweep (`camera` empty) or a camera image, with the
    ego pose at its time."""

    stamp_ns: int
    file: str
    ego2global: NDArray[np.float64]
    camera: str = ""
    intrinsics: NDArray[np.float64] = field(default_factory=lambda: np.eye(3))
    key: bool = False


def _events_in_time_order(
    samples: list[NuScenesCalibration], cameras: tuple[str, ...]
) -> list[_Event]:
    """Every sweep and key-frame image, oldest first. The ego pose at a camera's time follows
    from its calibration: lidar2cam = inv(cam2ego) @ inv(E_cam) @ E_lidar @ lidar2ego."""
    events = _clouds_in_time_order(samples)
    for sample in samples:
        global_from_lidar = sample.ego2global @ sample.lidar2ego
        for name in cameras:
            camera = sample.cameras[name]
            assert camera.cam2ego is not None  # _scene_mounting checked it
            ego2global = global_from_lidar @ invert_rigid(camera.lidar2cam)
            ego2global = ego2global @ invert_rigid(camera.cam2ego)
            events.append(
                _Event(_stamp(camera.timestamp), camera.file, ego2global, name, camera.intrinsics)
            )
    return sorted(events, key=lambda event: (event.stamp_ns, event.camera))


def _clouds_in_time_order(samples: list[NuScenesCalibration]) -> list[_Event]:
    """Key sweeps and listed sweeps of the samples, each file once, oldest first. (Legacy info
    files list up to 10 sweeps per sample, reaching past the previous key frame.)"""
    by_file: dict[str, _Event] = {}
    for sample in samples:
        for sweep in sample.sweeps:
            if not _same_extrinsic(sweep.lidar2ego, sample.lidar2ego):
                raise DataFormatError(
                    sweep.file, "lidar2ego differs from its key frame's", "one LiDAR mounting"
                )
            by_file.setdefault(
                sweep.file, _Event(_stamp(sweep.timestamp), sweep.file, sweep.ego2global)
            )
        by_file[sample.lidar_file] = _Event(
            _stamp(sample.timestamp), sample.lidar_file, sample.ego2global, key=True
        )
    return sorted(by_file.values(), key=lambda event: event.stamp_ns)


def _write_camera(
    bag: AtomicBagWriter,
    factory: Any,
    topics: NuScenesBagTopics,
    name: str,
    path: Path,
    intrinsics: NDArray[np.float64],
    stamp_ns: int,
) -> None:
    """The JPEG as recorded (CompressedImage) and its CameraInfo (size read from the file)."""
    try:
        data = path.read_bytes()
        with PilImage.open(path) as opened:  # reads the header only
            width, height = opened.size
            fmt = {"JPEG": "jpeg", "PNG": "png"}[str(opened.format)]
    except (OSError, KeyError) as error:
        raise DataFormatError(path, f"not a readable JPEG or PNG image ({error})") from None
    image = factory.new(
        "sensor_msgs/msg/CompressedImage",
        header=header(factory, stamp_ns, name),
        format=fmt,
        data=np.frombuffer(data, dtype=np.uint8),
    )
    bag.write(topics.image.format(camera=name), stamp_ns, image)
    info = camera_info_message(factory, intrinsics, width, height, stamp_ns, name)
    bag.write(topics.camera_info.format(camera=name), stamp_ns, info)
