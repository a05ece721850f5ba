#!/usr/bin/env bash
# The real ROS 2 interface tools for the .msg -> IDL test (Debian packages, system python):
# installed when missing and when we may (root with apt-get, as in CI); otherwise the test
# skips and says why.
set -euo pipefail
if command -v rosidl >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "== installing the rosidl adapter (Debian)"
  apt-get install -y -q python3-rosidl rosidl-tools python3-catkin-pkg python3-empy >/dev/null \
    || { apt-get update -q >/dev/null && apt-get install -y -q python3-rosidl rosidl-tools \
         python3-catkin-pkg python3-empy >/dev/null; } \
    || echo "warning: could not install the rosidl tools; their test will skip" >&2
fi
