"""What the tests on a live ROS 2 graph need: the real rclpy, message_filters, tf2_ros and
`ros2 launch` (../shared/ros, installed by scripts/setup_ros.sh) and the colcon build of this
package (scripts/build_ros.sh), with FastDDS on loopback (test/conftest.py sets
ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST and a ROS_DOMAIN_ID before anything starts a node).
The helpers that drive the graph live in occle_ros.graph (the benchmarks use them too).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from occle_ros.graph import (  # noqa: F401  (re-exported for the test modules)
    KittiRig,
    Launch,
    Probe,
    launched,
    probe,
    wait_for_state,
    wait_until,
)

REPO = Path(__file__).resolve().parents[2]


def ros_pieces_dir() -> Path:
    return Path(os.environ.get("OCCLE_ROS_DIR", REPO / ".." / "shared" / "ros"))


def _unavailable(problems: list[str], what: str) -> None:
    """Skip the calling module for `problems`, or fail under CI=true (CI must run it)."""
    if problems:
        message = f"{what} unavailable: " + "; ".join(problems)
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message, allow_module_level=True)


def require_ros_modules(*modules: str) -> None:
    """Skip the calling test module unless the real ROS 2 Python packages import.

    Without ../shared/ros (the pieces PyPI lacks: message_filters, tf2_ros, launch, ...) the
    module skips with that reason. Where the pieces exist but are not installed, it skips, or
    fails under CI=true.
    """
    pieces = ros_pieces_dir()
    if not pieces.is_dir():
        pytest.skip(
            f"no ROS 2 pieces at {pieces} (message_filters, tf2_ros, launch): these tests need "
            "them (../shared/ros/README.md)",
            allow_module_level=True,
        )
    problems = []
    for module in modules:
        try:
            __import__(module)
        except ImportError as error:
            problems.append(f"{module} ({error}): run scripts/setup_ros.sh")
    _unavailable(problems, "the ROS 2 stack")


def require_ros_graph() -> None:
    """Skip the calling test module unless a live ROS 2 graph can run here: the ROS 2 stack
    (`require_ros_modules`) and this package's colcon build on the ament index."""
    require_ros_modules("rclpy", "rclpy.lifecycle", "message_filters", "tf2_ros", "launch_ros")
    problems = []
    try:
        import occle_ros.msg  # noqa: F401
    except ImportError as error:
        problems.append(
            f"occle_ros.msg ({error}): run scripts/build_ros.sh and `. scripts/ros_env.sh`"
        )
    try:
        from ament_index_python.packages import get_package_share_directory

        get_package_share_directory("occle_ros")
    except Exception as error:  # PackageNotFoundError, or no ament_index_python at all
        problems.append(f"occle_ros not on the ament index ({error!r}): `. scripts/ros_env.sh`")
    _unavailable(problems, "a live ROS 2 graph")
