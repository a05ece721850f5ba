#!/usr/bin/env bash
# Create (or update) the project's virtual environment in .venv with torch 2.13.0 (CPU build) and
# occle installed in editable mode. Usage: scripts/setup_env.sh [--dev]
#   --dev   also install the test tools (pytest, hypothesis, ruff, mypy, catkin_pkg).
# The ROS 2 graph (rclpy, message_filters, tf2_ros, launch) comes from scripts/setup_ros.sh.
# Environment: OCCLE_VENV (default .venv), PYTHON (default python3).
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${OCCLE_VENV:-.venv}"
python="${PYTHON:-python3}"
extras=""
[ "${1:-}" = "--dev" ] && extras="[dev]"

if [ ! -x "$venv/bin/python" ]; then
  echo "== creating virtual environment $venv"
  "$python" -m venv "$venv" || {
    echo "error: '$python -m venv' failed; on Debian install it with: apt-get install python3-venv" >&2
    exit 1
  }
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check -q)

# torch first and pinned through a constraints file: any later requirement on torch is then
# satisfied by this CPU build instead of pulling a CUDA wheel.
if ! "$venv/bin/python" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '2.13.0')" 2>/dev/null; then
  echo "== installing torch 2.13.0 (CPU)"
  "${pip[@]}" install "torch==2.13.0"
fi
echo "== installing occle${extras}"
"${pip[@]}" install -c scripts/constraints.txt -e ".${extras}"
