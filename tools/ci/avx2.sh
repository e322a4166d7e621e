#!/usr/bin/env bash
# tools/ci/avx2.sh — the per-kernel tests a second time, built for x86-64-v3 (AVX2 + FMA, no
# AVX-512) and run with 2 OpenMP threads (issue 12). `-march=native` on an AVX-512 machine
# never compiles the kernels' AVX2 fallback paths, and the main run uses 1 thread, so without
# this step neither those paths nor the threaded reductions would be tested anywhere.
#   bash tools/ci/avx2.sh        # called by tools/test.sh; build-v3/ is CPU-only, no benchmarks
# Runs the conv (Winograd, direct), norm, pool, attention and other kernel test files, built
# as their own binary against the engine alone (mirrorlab_kernel_tests, tests/CMakeLists.txt).
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! grep -q -w avx2 /proc/cpuinfo 2>/dev/null || ! grep -q -w fma /proc/cpuinfo 2>/dev/null; then
  echo "avx2: this CPU lacks AVX2/FMA; the x86-64-v3 run is skipped"
  exit 0
fi
start=$(date +%s)
jobs="${JOBS:-$(nproc)}"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B build-v3 -G Ninja -DCMAKE_BUILD_TYPE=Release -DMIRRORLAB_CUDA=OFF -DMIRRORLAB_BENCH=OFF \
  -DMIRRORLAB_ARCH=x86-64-v3 "${launcher[@]}" >/dev/null
# mirrorlab_kernel_tests: the kernel test files (tests/CMakeLists.txt) against the engine alone.
cmake --build build-v3 -j "$jobs" --target mirrorlab_kernel_tests
OMP_NUM_THREADS=2 build-v3/tests/mirrorlab_kernel_tests
echo "avx2: x86-64-v3 kernel tests with 2 threads passed in $(( $(date +%s) - start )) s (build included)"
