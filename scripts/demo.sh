#!/usr/bin/env bash
# Quick start, command 1: set up the environment and run the main job (`occle demo`).
# Extra arguments are passed to `occle demo` (see `occle demo --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup_env.sh
"${OCCLE_VENV:-.venv}/bin/occle" demo "$@"
