#!/usr/bin/env bash
# Quick start, command 2: set up the environment with the test tools and a ROS 2 Jazzy graph,
# colcon-build the ROS package, then lint, format-check, type-check and run the whole test suite
# (the node tests on a live graph included). Extra arguments are passed to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup_env.sh --dev
scripts/setup_ros.sh
scripts/build_ros.sh
bin="${OCCLE_VENV:-.venv}/bin"
echo "== ruff check";        "$bin/ruff" check occle_core occle_ros test benchmarks launch
echo "== ruff format";       "$bin/ruff" format --check occle_core occle_ros test benchmarks launch
echo "== mypy";              "$bin/mypy"
# A domain of this run's own: two test runs on one machine must not see each other's nodes.
export ROS_DOMAIN_ID="${ROS_DOMAIN_ID:-$(( $$ % 100 + 1 ))}"
# shellcheck disable=SC1091
. scripts/ros_env.sh
echo "== pytest (ROS_DOMAIN_ID=$ROS_DOMAIN_ID, discovery on loopback)"
"$bin/pytest" -q "$@"
