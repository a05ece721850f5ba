"""The launch description both launch files build: the `occle` lifecycle node, configured and
activated by launch events unless ``autostart:=false``, and RViz on request (needs launch_ros).

    ros2 launch occle_ros occle.launch.py checkpoint:=/path/occle.pt [autostart:=false] ...

With ``autostart:=false`` the node waits unconfigured, for a lifecycle manager or for
``ros2 lifecycle set /occle configure`` and ``... activate``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, EmitEvent, RegisterEventHandler
from launch.conditions import IfCondition
from launch.events import matches_action
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode, Node
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState
from lifecycle_msgs.msg import Transition

#: Launch arguments that remap the node's private input topics (KITTI-like rig, one camera).
TOPIC_ARGUMENTS = {
    "cloud_topic": ("~/input/pointcloud", "/velodyne_points"),
    "image_topic": ("~/input/image", "/camera/image_2/image_raw"),
    "camera_info_topic": ("~/input/camera_info", "/camera/image_2/camera_info"),
}


def _transition(node: LifecycleNode, transition: int, **kwargs: Any) -> EmitEvent:
    return EmitEvent(
        event=ChangeState(lifecycle_node_matcher=matches_action(node), transition_id=transition),
        **kwargs,
    )


def occle_launch_description(
    params_file: str, remappable: Sequence[str] = (), checkpoint_help: str = "OccLE checkpoint"
) -> LaunchDescription:
    """The node, its launch arguments and the lifecycle start-up.

    Args:
        params_file: the default parameter file, relative to the package's share folder.
        remappable: names of `TOPIC_ARGUMENTS` offered as launch arguments.
        checkpoint_help: description of the `checkpoint` argument.
    """
    share = Path(get_package_share_directory("occle_ros"))
    arguments = [
        DeclareLaunchArgument(
            "params_file",
            default_value=str(share / params_file),
            description="node parameter file (every parameter is described in the README)",
        ),
        DeclareLaunchArgument("checkpoint", description=f"{checkpoint_help} (.pt)"),
        DeclareLaunchArgument("device", default_value="auto", description="auto, cpu, cuda[:N]"),
        DeclareLaunchArgument(
            "autostart",
            default_value="true",
            description="configure and activate the lifecycle node at start-up",
        ),
        DeclareLaunchArgument(
            "use_sim_time", default_value="false", description="follow /clock (bag replay)"
        ),
        DeclareLaunchArgument("log_level", default_value="info", description="node log level"),
        DeclareLaunchArgument("rviz", default_value="false", description="start RViz"),
    ]
    arguments += [
        DeclareLaunchArgument(name, default_value=TOPIC_ARGUMENTS[name][1]) for name in remappable
    ]
    node = LifecycleNode(
        package="occle_ros",
        executable="occle_node",
        name="occle",
        namespace="",
        output="screen",
        arguments=["--ros-args", "--log-level", LaunchConfiguration("log_level")],
        parameters=[
            LaunchConfiguration("params_file"),
            {
                "model.checkpoint": LaunchConfiguration("checkpoint"),
                "model.device": LaunchConfiguration("device"),
                "use_sim_time": LaunchConfiguration("use_sim_time"),
            },
        ],
        remappings=[(TOPIC_ARGUMENTS[n][0], LaunchConfiguration(n)) for n in remappable],
    )
    autostart = IfCondition(LaunchConfiguration("autostart"))
    activate_when_configured = RegisterEventHandler(
        OnStateTransition(
            target_lifecycle_node=node,
            start_state="configuring",
            goal_state="inactive",
            entities=[_transition(node, Transition.TRANSITION_ACTIVATE)],
            # Only the start-up: a later configure by an operator is not activated behind
            # their back (and would race their own activate).
            handle_once=True,
        ),
        condition=autostart,
    )
    configure = _transition(node, Transition.TRANSITION_CONFIGURE, condition=autostart)
    rviz = Node(
        package="rviz2",
        executable="rviz2",
        arguments=["-d", str(share / "rviz" / "occle.rviz")],
        condition=IfCondition(LaunchConfiguration("rviz")),
    )
    return LaunchDescription([*arguments, node, activate_when_configured, configure, rviz])
