"""Launch the OccLE lifecycle node for a nuScenes-like rig: LIDAR_TOP and six surround cameras,
the Occ3D model (ego-frame grid), topics as the nuScenes-to-ROS converters name them.

    ros2 launch occle_ros occle_nuscenes.launch.py checkpoint:=/path/occle_occ3d.pt \
        [device:=cuda] [rviz:=true] [params_file:=/path/occle_nuscenes.yaml] \
        [autostart:=false] [use_sim_time:=true]

Each camera is one synchronised (CompressedImage, CameraInfo) pair listed in the parameter file
(`topics.images`, `topics.camera_infos`, in the model's camera order); edit that file for another
rig rather than remapping here.
"""

from launch import LaunchDescription

from occle_ros.launch_description import occle_launch_description


def generate_launch_description() -> LaunchDescription:
    return occle_launch_description(
        "config/occle_nuscenes.yaml", checkpoint_help="OccLE Occ3D checkpoint"
    )
