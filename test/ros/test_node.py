"""The rclpy node on a real ROS 2 graph: publish one camera/LiDAR set and a static transform,
receive the occupancy. Runs only where rclpy and the built occle_ros messages exist (a sourced
ROS 2 workspace); elsewhere the pipeline tests cover the logic and CI type-checks the node."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy", reason="rclpy missing: needs a sourced ROS 2 install")
pytest.importorskip("occle_ros.msg", reason="occle_ros messages not built (colcon build)")


def test_node_publishes_occupancy_for_a_synchronised_set(tmp_path: Path):
    from occle_ros.msg import SemanticOccupancy
    from rclpy.executors import MultiThreadedExecutor
    from sensor_msgs.msg import CameraInfo, Image, PointCloud2
    from tf2_msgs.msg import TFMessage

    from occle_core.model.build import build_model
    from occle_core.model.checkpoint import save_checkpoint
    from occle_core.model.config import load_model_config
    from occle_ros.conversions.camera import camera_info_message
    from occle_ros.conversions.image import array_to_image
    from occle_ros.conversions.pointcloud import array_to_cloud
    from occle_ros.conversions.transform import transform_stamped
    from occle_ros.node import OccleNode, RclpyFactory

    checkpoint = tmp_path / "tiny.pt"
    save_checkpoint(checkpoint, build_model(load_model_config("occle_tiny"), seed=0))
    rclpy.init(
        args=[
            "--ros-args",
            "-p",
            f"model.checkpoint:={checkpoint}",
            "-p",
            "model.device:=cpu",
            "-p",
            "input.scans:=1",
        ]
    )
    try:
        node = OccleNode()
        helper = rclpy.create_node("occle_test_helper")
        received: list = []
        helper.create_subscription(SemanticOccupancy, "/occle/output/occupancy", received.append, 2)
        latched = rclpy.qos.QoSProfile(
            depth=1, durability=rclpy.qos.DurabilityPolicy.TRANSIENT_LOCAL
        )
        static = helper.create_publisher(TFMessage, "/tf_static", latched)
        cloud_pub = helper.create_publisher(PointCloud2, "/occle/input/pointcloud", 5)
        image_pub = helper.create_publisher(Image, "/occle/input/image", 5)
        info_pub = helper.create_publisher(CameraInfo, "/occle/input/camera_info", 5)
        factory = RclpyFactory()
        cam_from_lidar = np.array([[0, -1, 0, 0], [0, 0, -1, 0], [1, 0, 0, 0], [0, 0, 0, 1.0]])
        stamp = helper.get_clock().now().nanoseconds
        static.publish(
            factory.new(
                "tf2_msgs/msg/TFMessage",
                transforms=[
                    transform_stamped(
                        factory, np.linalg.inv(cam_from_lidar), stamp, "velodyne", "cam"
                    )
                ],
            )
        )
        executor = MultiThreadedExecutor(num_threads=3)
        executor.add_node(node)
        executor.add_node(helper)
        rng = np.random.default_rng(0)
        points = np.concatenate(
            [rng.uniform((1, -20, -1.5), (40, 20, 2), (3000, 3)), rng.random((3000, 1))], axis=1
        )
        k = np.array([[150.0, 0, 155], [0, 150, 47], [0, 0, 1]])
        deadline = time.monotonic() + 60
        while not received and time.monotonic() < deadline:
            stamp = helper.get_clock().now().nanoseconds
            cloud_pub.publish(array_to_cloud(factory, points, stamp, "velodyne"))
            rgb = rng.integers(0, 256, (94, 310, 3), dtype=np.uint8)
            image_pub.publish(array_to_image(factory, rgb, stamp, "cam"))
            info_pub.publish(camera_info_message(factory, k, 310, 94, stamp, "cam"))
            executor.spin_once(timeout_sec=0.5)
        assert received, "no SemanticOccupancy within 60 s"
        message = received[0]
        assert list(message.dims) == [64, 64, 8] and message.header.frame_id == "velodyne"
    finally:
        rclpy.try_shutdown()
