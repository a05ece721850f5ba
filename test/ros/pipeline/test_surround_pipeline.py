"""Several cameras through the node's pipeline (the ROS-free part of the node): one synchronised
(Image, CameraInfo) pair per camera, the grid in the ego frame (`tf.grid_frame`), and the shipped
parameter file of a nuScenes-like rig."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from occle_core.model.build import build_model
from occle_core.model.config import load_model_config
from occle_ros.conversions.camera import camera_info_message
from occle_ros.conversions.image import array_to_image
from occle_ros.conversions.pointcloud import array_to_cloud
from occle_ros.messages import RosbagsFactory, typestore
from occle_ros.pipeline.config import NodeConfig, TfParams, TopicParams, load_node_config
from occle_ros.pipeline.pipeline import OccupancyPipeline
from occle_ros.pipeline.sensors import SensorSet

REPO = Path(__file__).resolve().parents[3]
FACTORY = RosbagsFactory(typestore("humble"))
CAMERAS = ("CAM_FRONT", "CAM_FRONT_RIGHT", "CAM_FRONT_LEFT", "CAM_BACK", "CAM_BACK_LEFT",
           "CAM_BACK_RIGHT")  # fmt: skip
YAWS = (0.0, -55.0, 55.0, 180.0, 110.0, -110.0)


def test_nuscenes_parameter_file_lists_six_camera_pairs() -> None:
    config = load_node_config(REPO / "config" / "occle_nuscenes.yaml")
    assert config.model.config == "occle_occ3d" and config.topics.cloud == "/LIDAR_TOP"
    assert config.topics.images == tuple(f"/{c}/image_rect_compressed" for c in CAMERAS)
    assert config.topics.camera_infos == tuple(f"/{c}/camera_info" for c in CAMERAS)
    assert config.topics.compressed and config.tf.grid_frame == "base_link"
    assert load_model_config(config.model.config).num_cameras == 6
    launch = (REPO / "launch" / "occle_nuscenes.launch.py").read_text()
    compile(launch, "occle_nuscenes.launch.py", "exec")
    assert "occle_nuscenes.yaml" in launch


def cam_from_base(yaw_deg: float) -> np.ndarray:
    """Optical frame of a level camera looking along `yaw_deg`, 1.5 m above base_link."""
    yaw = np.deg2rad(yaw_deg)
    forward, right = (
        np.array([np.cos(yaw), np.sin(yaw), 0]),
        np.array([np.sin(yaw), -np.cos(yaw), 0]),
    )
    base_from_cam = np.eye(4)
    base_from_cam[:3, :3] = np.stack([right, [0, 0, -1], forward], axis=1)
    base_from_cam[:3, 3] = [0, 0, 1.5]
    return np.linalg.inv(base_from_cam)


def test_six_cameras_and_an_ego_frame_grid() -> None:
    model_config = dataclasses.replace(load_model_config("occle_tiny"), num_cameras=6)
    runner_module = __import__("occle_core.runtime", fromlist=["ModelRunner"])
    runner = runner_module.ModelRunner(build_model(model_config, seed=0), torch.device("cpu"))
    lidar_to_base = np.eye(4)
    lidar_to_base[2, 3] = 1.84
    asked: list[tuple[str, str]] = []

    def lookup(target: str, source: str, stamp: int) -> np.ndarray:
        asked.append((target, source))
        if (target, source) == ("base_link", "lidar_top"):
            return lidar_to_base
        if target.startswith("cam") and source == "base_link":
            return cam_from_base(YAWS[int(target[3:])])
        raise LookupError(f"no transform {source} -> {target}")

    config = NodeConfig(
        topics=TopicParams(
            cloud="/LIDAR_TOP",
            images=tuple(f"/{c}/image" for c in CAMERAS),
            camera_infos=tuple(f"/{c}/camera_info" for c in CAMERAS),
        ),
        tf=TfParams(grid_frame="base_link"),
    )
    pipeline = OccupancyPipeline(runner, config, FACTORY, lookup)
    rng = np.random.default_rng(0)
    points = np.concatenate(
        [rng.uniform((-30, -30, -1.5), (30, 30, 2), (4000, 3)), rng.random((4000, 1))], axis=1
    )
    messages = {"cloud": array_to_cloud(FACTORY, points, 5, "lidar_top")}
    k = np.array([[80.0, 0, 80], [0, 80, 45], [0, 0, 1]])
    for index in range(6):
        rgb = rng.integers(0, 256, (90, 160, 3), dtype=np.uint8)
        messages[f"image{index}"] = array_to_image(FACTORY, rgb, 5, f"cam{index}")
        messages[f"info{index}"] = camera_info_message(FACTORY, k, 160, 90, 5, f"cam{index}")
    output = pipeline.process(SensorSet.from_named(messages))
    assert output is not None, pipeline.counters.last_error
    assert output.grid.labels.shape == model_config.grid.shape
    assert output.occupancy.header.frame_id == "base_link"  # published in the grid's frame
    # Points were moved from the LiDAR into base_link, every camera calibrated against it.
    assert ("base_link", "lidar_top") in asked
    assert {f"cam{i}" for i in range(6)} <= {t for t, s in asked if s == "base_link"}
    # A set with five cameras' worth of messages is refused without stopping the pipeline.
    del messages["image5"], messages["info5"]
    assert pipeline.process(SensorSet.from_named(messages)) is None
    assert pipeline.counters.skipped == 1 and "5 camera(s)" in pipeline.counters.last_error
