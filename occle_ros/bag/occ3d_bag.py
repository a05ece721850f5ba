"""One scene of a nuScenes / Occ3D-nuScenes root -> the rosbag2 a nuScenes-like robot records:
every LiDAR sweep at its own time, the six key-frame images, their CameraInfo, and TF.

nuScenes keeps its LiDAR at 20 Hz (the synthetic surround rig at 10 Hz) and annotates key frames
at 2 Hz. The bag carries all of them as a driver would publish them:

* `/LIDAR_TOP` (PointCloud2 in `LIDAR_TOP`): the key sweep of every sample and the sweeps the
  info file lists before it, in time order, each once;
* `/<CAM>/image_rect_compressed` (the JPEG files unchanged) and `/<CAM>/camera_info`, at the
  key frames (the info files list no other images), stamped with each camera's own time;
* `/tf`: `map -> base_link` (the ego pose) at every sweep; `/tf_static`: `base_link ->
  LIDAR_TOP` and `base_link -> <CAM>` (optical frame) from the scene's first key frame;
* `/occle/source`: JSON naming the root, info file and scene, for `occle bag-eval --gt`.

The topic and frame names match config/occle_nuscenes.yaml. A node with `input.scans` = 1 + N
then aggregates the same sweeps as training with `sweeps: N`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
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


@dataclass(frozen=True)
class _Cloud:
    """One LiDAR sweep to write: its file, time and calibration."""

    file: str
    stamp_ns: int
    lidar2ego: NDArray[np.float64]
    ego2global: NDArray[np.float64]


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
        out: bag folder to create (written as `<out>.partial`, renamed when complete).
        cameras: cameras to write, in this order.
        progress: called as (key frames done, key frames).

    Raises:
        FileExistsError: `out` exists.
        DataFormatError: the scene is not in the info file, or its LiDAR or camera calibration
            changes between key frames (one /tf_static cannot hold it).
    """
    (opened,) = open_occ3d_scenes(root, info_file, [scene])
    samples = opened.samples
    first = samples[0]
    for sample in samples:
        if not _same_extrinsic(sample.lidar2ego, first.lidar2ego):
            raise DataFormatError(
                info_file, f"lidar2ego of sample {sample.sample_token} differs", "one per scene"
            )
        absent = [c for c in cameras if c not in sample.cameras]
        if absent:
            raise DataFormatError(
                info_file, f"sample {sample.sample_token} has no camera {absent}", str(cameras)
            )
    base_from_cam = {
        name: first.lidar2ego @ invert_rigid(first.cameras[name].lidar2cam) for name in cameras
    }
    clouds = _clouds_in_time_order(samples)
    bag = AtomicBagWriter(out, storage, distro)
    factory = RosbagsFactory(bag.store)
    base = Path(root)
    with bag:
        bag.connect(topics.cloud, "sensor_msgs/msg/PointCloud2")
        for name in cameras:
            bag.connect(topics.image.format(camera=name), "sensor_msgs/msg/CompressedImage")
            bag.connect(topics.camera_info.format(camera=name), "sensor_msgs/msg/CameraInfo")
        connect_common_topics(bag)
        start = clouds[0].stamp_ns
        statics = [
            transform_stamped(factory, first.lidar2ego, start, topics.ego_frame, topics.lidar_frame)
        ]
        statics += [
            transform_stamped(factory, base_from_cam[name], start, topics.ego_frame, name)
            for name in cameras
        ]
        bag.write("/tf_static", start, factory.new("tf2_msgs/msg/TFMessage", transforms=statics))
        source = {
            "layout": "occ3d",
            "dataset": str(base.resolve()),
            "info_file": str(Path(info_file)),
            "sequence": scene,
        }
        write_source(bag, factory, start, source)
        keys = {_stamp(s.timestamp): s for s in samples}
        done = 0
        for cloud in clouds:
            pose = transform_stamped(
                factory, cloud.ego2global, cloud.stamp_ns, topics.world_frame, topics.ego_frame
            )
            bag.write(
                "/tf", cloud.stamp_ns, factory.new("tf2_msgs/msg/TFMessage", transforms=[pose])
            )
            points = read_nuscenes_lidar(base / cloud.file)
            message = array_to_cloud(factory, points, cloud.stamp_ns, topics.lidar_frame)
            bag.write(topics.cloud, cloud.stamp_ns, message)
            key = keys.get(cloud.stamp_ns)
            if key is None:
                continue
            for name in cameras:
                camera = key.cameras[name]
                _write_camera(bag, factory, topics, name, base / camera.file, camera.intrinsics,
                              _stamp(camera.timestamp))  # fmt: skip
            done += 1
            progress(done, len(samples))
    return bag.out


def _clouds_in_time_order(samples: list[NuScenesCalibration]) -> list[_Cloud]:
    """Key sweeps and listed sweeps of the samples, each file once, oldest first. (Legacy info
    files list up to 10 sweeps per sample, reaching past the previous key frame.)"""
    by_file: dict[str, _Cloud] = {}
    for sample in samples:
        for sweep in sample.sweeps:
            by_file.setdefault(
                sweep.file,
                _Cloud(sweep.file, _stamp(sweep.timestamp), sweep.lidar2ego, sweep.ego2global),
            )
        by_file[sample.lidar_file] = _Cloud(
            sample.lidar_file, _stamp(sample.timestamp), sample.lidar2ego, sample.ego2global
        )
    return sorted(by_file.values(), key=lambda c: c.stamp_ns)


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
