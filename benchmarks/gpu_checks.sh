#!/usr/bin/env bash
# The checks that need a GPU, as one script (about 5 minutes on an H200, at most 10 by its timeouts), from the
# repository root:
#   bash benchmarks/gpu_checks.sh [OUT_DIR]
# CUDA graphs' replaying tests first (they have run on the CuPy stand-in, not yet on a GPU), then the model
# suite on "cuda" (with the steps replayed as CUDA graphs), host-device reads per step, and the whole suite.
set -x
out=${1:-/tmp/tinygrad-gpt-gpu}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 HYPOTHESIS_PROFILE=ci PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
timeout 120 python3 -m pytest -q -p no:cacheprovider tests/cuda/test_graphs.py tests/tensor/test_optim.py 2>&1 | tee "$out/graph_tests.log"
timeout 240 python3 -m benchmarks --device cuda --suite model --out "$out/bench" 2>&1 | tee "$out/bench.log"
timeout 60 python3 -m benchmarks.host_syncs --config medium 2>&1 | tee "$out/host_syncs.txt"
timeout 180 python3 -m pytest -n "$(($(nproc) - 2))" -q -p no:cacheprovider tests > "$out/tests.log" 2>&1
tail -3 "$out/tests.log"
