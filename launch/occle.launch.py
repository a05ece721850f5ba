"""Launch the OccLE lifecycle node for a KITTI-like rig (one camera; and optionally RViz).

    ros2 launch occle_ros occle.launch.py checkpoint:=/path/occle.pt \
        cloud_topic:=/velodyne_points image_topic:=/camera/image_2/image_raw \
        camera_info_topic:=/camera/image_2/camera_info [device:=cuda] [rviz:=true] \
        [params_file:=/path/occle.yaml] [autostart:=false] [use_sim_time:=true]

The node is configured and activated at start-up unless autostart:=false (then use
`ros2 lifecycle set /occle configure` and `... activate`). The launch description is built by
occle_ros.launch_description, shared with occle_nuscenes.launch.py.
"""

from launch import LaunchDescription

from occle_ros.launch_description import TOPIC_ARGUMENTS, occle_launch_description


def generate_launch_description() -> LaunchDescription:
    return occle_launch_description("config/occle.yaml", remappable=tuple(TOPIC_ARGUMENTS))
