#!/usr/bin/env bash
# Packs the Python wheels that scripts/gpu_check.sh needs on a GPU machine without network into
# .gpu/site.tar.xz (gitignored): spconv for CUDA and what it imports. Run it here, where PyPI is
# reachable; then carry .gpu to the GPU machine.
#
# What goes in (cp312, manylinux_2_28 x86_64), as downloaded on 2026-12-01:
#   spconv-cu126 2.3.8   70.5 MB wheel   sparse convolutions with CUDA kernels
#   cumm-cu126 0.7.11    26.6 MB wheel   spconv's CUDA runtime library
#   pccm 0.4.16, ccimport 0.4.4, fire 0.7.1, termcolor 3.3.0, lark 1.3.1 (0.3 MB together)
# The two big wheels together exceed the 64 MiB a GPU call may carry, so the bundle holds their
# unpacked contents, compressed with xz -9e: about 40 MB. numpy, pybind11, ninja, portalocker,
# sympy, requests and torch are expected on the GPU machine already.
#
# Usage: scripts/gpu_bundle.sh [python]   (any python with pip; default .venv/bin/python)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${1:-.venv/bin/python}"
WHEELS=(
    spconv-cu126==2.3.8 cumm-cu126==0.7.11 pccm==0.4.16 ccimport==0.4.4 fire==0.7.1
    termcolor==3.3.0 lark==1.3.1
)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$PYTHON" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d "$work/wheels" "${WHEELS[@]}"
mkdir -p "$work/site" .gpu
for wheel in "$work"/wheels/*.whl; do
    "$PYTHON" -m zipfile -e "$wheel" "$work/site"
done
# Written beside, then renamed: an interrupted run leaves no truncated bundle behind.
tar -C "$work/site" -cf - . | xz -9e -T0 >"$work/site.tar.xz"
mv "$work/site.tar.xz" .gpu/site.tar.xz
du -h .gpu/site.tar.xz
