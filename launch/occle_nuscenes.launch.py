"""Launch the OccLE node for a nuScenes-like rig: LIDAR_TOP and six surround cameras, the Occ3D
model (ego-frame grid), topics as the nuScenes-to-ROS converters name them.

    ros2 launch occle_ros occle_nuscenes.launch.py checkpoint:=/path/occle_occ3d.pt \
        [device:=cuda] [rviz:=true] [params_file:=/path/occle_nuscenes.yaml]

Each camera is one synchronised (CompressedImage, CameraInfo) pair listed in the parameter file
(`topics.images`, `topics.camera_infos`, in the model's camera order); edit that file for another
rig rather than remapping here.
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
            default_value=str(share / "config" / "occle_nuscenes.yaml"),
            description="node parameter file with the six camera topics",
        ),
        DeclareLaunchArgument("checkpoint", description="OccLE Occ3D checkpoint (.pt)"),
        DeclareLaunchArgument("device", default_value="auto", description="auto, cpu, cuda[:N]"),
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
    )
    rviz = Node(
        package="rviz2",
        executable="rviz2",
        arguments=["-d", str(share / "rviz" / "occle.rviz")],
        condition=IfCondition(LaunchConfiguration("rviz")),
    )
    return LaunchDescription([*arguments, node, rviz])
