#!/usr/bin/env bash
# Quick start, command 2: set up the environment with the test tools, then lint, format-check,
# type-check and run the whole test suite. Extra arguments are passed to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup_env.sh --dev
scripts/setup_ros_tools.sh
bin="${OCCLE_VENV:-.venv}/bin"
echo "== ruff check";        "$bin/ruff" check occle_core occle_ros test benchmarks
echo "== ruff format";       "$bin/ruff" format --check occle_core occle_ros test benchmarks
echo "== mypy";              MYPYPATH="${OCCLE_VENV:-.venv}/typecheck" "$bin/mypy"
echo "== pytest";            "$bin/pytest" -q "$@"
