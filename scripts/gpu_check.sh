#!/usr/bin/env bash
# Every GPU check in one call, on a machine with an NVIDIA GPU, Python 3.12 and torch installed
# but no network (run scripts/gpu_bundle.sh first, where PyPI is reachable, and bring .gpu/):
#   1. the CUDA-marked tests (test/runtime/test_cuda.py): forward and training steps on CUDA,
#      checkpoints between CPU and GPU, bf16 autocast, the selective-scan dispatch;
#   2. `occle bench model` of the full-resolution SemanticKITTI and Occ3D-nuScenes models on the
#      GPU, fp32 with a training step, then bf16 autocast.
# Results go to $OUT (or the folder given as the first argument; default gpu_results/):
# environment.txt, cuda_tests.log, bench_fp32.{log,json}, bench_bf16.{log,json}.
# Budget: under 10 minutes; each step has its own time limit so a hang cannot eat the rest.
#
# Usage: bash scripts/gpu_check.sh [results-folder]
set -uo pipefail
cd "$(dirname "$0")/.."
results="${1:-${OUT:-gpu_results}}"
mkdir -p "$results"
site=/tmp/occle_gpu_site
if [ -f .gpu/site.tar.xz ]; then
    mkdir -p "$site" && xz -dc .gpu/site.tar.xz | tar -C "$site" -xf - || exit 1
else
    echo "gpu_check: .gpu/site.tar.xz not found (run scripts/gpu_bundle.sh): spconv for CUDA" \
        "is missing, so the model tests and benchmarks will fail" >&2
fi
export PYTHONPATH="$site:$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
status=0

python3 - >"$results/environment.txt" 2>&1 <<'PY'
import platform, torch
print("python", platform.python_version(), "torch", torch.__version__, "cuda", torch.version.cuda)
print("gpu", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none")
try:
    import spconv
    print("spconv", spconv.__version__)
except Exception as error:  # the report says what failed, the tests then say where
    print("spconv not importable:", error)
try:
    import mamba_ssm
    print("mamba_ssm", mamba_ssm.__version__)
except Exception as error:
    print("mamba_ssm not importable (the scan runs our own torch code):", error)
PY
cat "$results/environment.txt"

timeout 300 python3 -m pytest -q -m cuda -p no:cacheprovider test/runtime/test_cuda.py 2>&1 |
    tee "$results/cuda_tests.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

bench() {  # bench NAME [options...]
    local name="$1"
    shift
    timeout 150 python3 -m occle_core.cli.main bench model --device cuda \
        --config occle_semantickitti occle_occ3d --json "$results/$name.json" "$@" 2>&1 |
        tee "$results/$name.log"
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
}
bench bench_fp32 --train-step
bench bench_bf16 --amp bf16
exit "$status"
