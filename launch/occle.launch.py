"""Launch the OccLE node (and optionally RViz).

    ros2 launch occle_ros occle.launch.py checkpoint:=/path/occle.pt \
        cloud_topic:=/velodyne_points image_topic:=/camera/image_2/image_raw \
        camera_info_topic:=/camera/image_2/camera_info [device:=cuda] [rviz:=true] \
        [params_file:=/path/occle.yaml]
"""

from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def generate_launch_description() -> LaunchDescription:
    share = Path(get_package_share_directory("occle_ros"))
    arguments = [
        DeclareLaunchArgument(
            "params_file",
            default_value=str(share / "config" / "occle.yaml"),
            description="node parameter file (every parameter is described in the README)",
        ),
        DeclareLaunchArgument("checkpoint", description="OccLE checkpoint (.pt)"),
        DeclareLaunchArgument("device", default_value="auto", description="auto, cpu, cuda[:N]"),
        DeclareLaunchArgument("cloud_topic", default_value="/velodyne_points"),
        DeclareLaunchArgument("image_topic", default_value="/camera/image_2/image_raw"),
        DeclareLaunchArgument("camera_info_topic", default_value="/camera/image_2/camera_info"),
        DeclareLaunchArgument("rviz", default_value="false", description="start RViz"),
    ]
    node = Node(
        package="occle_ros",
        executable="occle_node",
        name="occle",
        output="screen",
        parameters=[
            LaunchConfiguration("params_file"),
            {
                "model.checkpoint": LaunchConfiguration("checkpoint"),
                "model.device": LaunchConfiguration("device"),
            },
        ],
        remappings=[
            ("~/input/pointcloud", LaunchConfiguration("cloud_topic")),
            ("~/input/image", LaunchConfiguration("image_topic")),
            ("~/input/camera_info", LaunchConfiguration("camera_info_topic")),
        ],
    )
    rviz = Node(
        package="rviz2",
        executable="rviz2",
        arguments=["-d", str(share / "rviz" / "occle.rviz")],
        condition=IfCondition(LaunchConfiguration("rviz")),
    )
    return LaunchDescription([*arguments, node, rviz])
