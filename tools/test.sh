#!/usr/bin/env bash
# tools/test.sh — the test command (README.md): set up, configure, build, run the suite.
#   bash tools/test.sh                      # CUDA configuration when nvcc is present (the default)
#   MIRRORLAB_CUDA=OFF bash tools/test.sh   # the CPU-only configuration, in build-cpu/
# GPU tests skip with a one-line reason where no device is present.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tools/setup.sh

# nvcc lives outside PATH on some machines.
if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then export PATH="$PATH:/usr/local/cuda/bin"; fi
cuda="${MIRRORLAB_CUDA:-ON}"
if [ "$cuda" = ON ] && ! command -v nvcc >/dev/null; then
  echo "test: no nvcc found; building the CPU-only configuration"
  cuda=OFF
fi
build="build"
[ "$cuda" = OFF ] && build="build-cpu"

jobs="${JOBS:-$(nproc)}"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMIRRORLAB_CUDA="$cuda"
cmake --build "$build" -j "$jobs"
# One process per test case; OMP_NUM_THREADS=1 keeps two concurrent cases from
# oversubscribing the cores (the kernels' threading is exercised by tests that set it).
OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" ctest --test-dir "$build" -j "$jobs" --output-on-failure --timeout 600
bash tools/ci/interpret.sh  # the CUDA tests without a GPU: tests/cuda/ in the interpret mode
