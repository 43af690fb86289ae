#!/usr/bin/env bash
# The trainer's GPU checks, in one call on the device machine (../shared/GPU.md), from the repo root:
#   1. xformers and SDPA agree in bf16 (tests/test_model.py; no conftest: Beam is not installed there),
#   2. benchmarks/bench_train_mfu.py: tokens/s and MFU of the 1b config, table written to $OUT/BENCHMARKS.md.
# Needs .whl/ holding xformers 0.0.35 and the CUDA 12.8 runtime for CPython 3.12; fetch them here with
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#     -d .whl xformers==0.0.35 nvidia-cuda-runtime-cu12==12.8.90
# and carry .whl with the run.
set -euo pipefail
OUT=${OUT:-$PWD/.gpu-out}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --target .site .whl/*.whl
export PYTHONPATH=$PWD/.site:$PWD:${PYTHONPATH:-}
export LD_LIBRARY_PATH=$PWD/.site/nvidia/cuda_runtime/lib:${LD_LIBRARY_PATH:-}
python3 -c "import torch, xformers, xformers.ops; print('torch', torch.__version__, 'xformers', xformers.__version__, torch.cuda.get_device_name())"
python3 -m pytest -q --noconftest -p no:cacheprovider tests/test_model.py 2>&1 | tee "$OUT/test_model.txt"
cp BENCHMARKS.md "$OUT/BENCHMARKS.md"
python3 benchmarks/bench_train_mfu.py --output "$OUT/BENCHMARKS.md" 2>&1 | tee "$OUT/train_mfu.txt"
