# shellcheck shell=bash
# Source this file (`. scripts/ros_env.sh`) for a shell on this checkout's ROS 2 graph: the venv
# (rclpy, ros2, occle) first on PATH, its ROS 2 packages and the colcon workspace ros_ws/install
# (scripts/build_ros.sh) on the ament index, and DDS discovery kept on loopback.
# Environment: OCCLE_VENV (default .venv), OCCLE_ROS_WS (default ros_ws), ROS_DOMAIN_ID (kept when
# set, else 17: set the same one in every shell that should see this graph).
_occle_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_occle_venv="$(cd "${OCCLE_VENV:-$_occle_root/.venv}" && pwd)"
_occle_ws="${OCCLE_ROS_WS:-$_occle_root/ros_ws}"
# FastDDS multicasts on the network interface otherwise; these machines allow loopback only.
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
export ROS_DOMAIN_ID="${ROS_DOMAIN_ID:-17}"
export PATH="$_occle_venv/bin:$PATH"
case ":${AMENT_PREFIX_PATH:-}:" in
  *":$_occle_venv:"*) ;;
  *) export AMENT_PREFIX_PATH="$_occle_venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}" ;;
esac
if [ -f "$_occle_ws/install/setup.bash" ]; then
  # colcon's setup scripts read unset variables; keep the caller's `set -u` as it was.
  case $- in *u*) _occle_nounset=1; set +u ;; *) _occle_nounset= ;; esac
  # shellcheck disable=SC1091
  . "$_occle_ws/install/setup.bash"
  [ -n "$_occle_nounset" ] && set -u
else
  echo "ros_env: no colcon workspace at $_occle_ws/install (scripts/build_ros.sh builds it)" >&2
fi
unset _occle_root _occle_venv _occle_ws _occle_nounset
