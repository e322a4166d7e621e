#!/usr/bin/env bash
# tools/ci/interpret.sh — the CUDA kernels run in CI without a GPU: builds the interpret mode
# (tests/interpret/: kernels/cuda/*.cu as host C++, each CUDA thread a fiber, the CUDA runtime
# and cuBLAS shimmed) and runs every CUDA test of tests/cuda/ under it against the CPU
# references, three ways:
#   1. all test cases (every parity family, the training check, the emulator's own checks),
#      with the 162-case conv sweep sampled (every ML_CONV_SWEEP_EVERY-th case) and the conv
#      edge shapes in full;
#   2. the same with the threads of every block, and the blocks of every grid, scheduled in
#      reverse order (ML_INTERP_REVERSE=1): a result that depends on the order is a race;
#   3. under AddressSanitizer (the kernels and the CUDA runtime instrumented), the conv edge
#      shapes and the other parity families: an out-of-bounds access of a kernel is an error.
# Called by tools/test.sh; by hand: bash tools/ci/interpret.sh (JOBS=2 to limit the build).
# Each step prints its wall time; the whole took about the figure in README.md on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."

jobs="${JOBS:-$(nproc)}"
build="${ML_INTERP_BUILD:-build-interp}"
every="${ML_CONV_SWEEP_EVERY:-9}"  # 18 of the 162 sweep cases; 1 = all

step() {  # step NAME COMMAND...: runs it, prints its wall time
  local name="$1"; shift
  local t0=$SECONDS
  echo "interpret: $name"
  "$@"
  echo "interpret: $name took $((SECONDS - t0)) s"
}

t_all=$SECONDS
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
step "configure" cmake -S tests/interpret -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" >/dev/null
step "build" cmake --build "$build" -j "$jobs" --target mirrorlab_interpret_tests mirrorlab_interpret_tests_asan

# One process, the cases in sequence; OMP_NUM_THREADS=1: the CPU references single-threaded,
# as tools/test.sh runs the suite. The two runs can share the cores.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
export ML_CONV_SWEEP_EVERY="$every"
bin="$build/mirrorlab_interpret_tests"
step "run (forward order)" "$bin" --no-intro=true --duration=true
step "run (reverse order)" env ML_INTERP_REVERSE=1 "$bin" --no-intro=true --duration=true \
  -tce='*weight gradients are the same bits*'
# AddressSanitizer: detect_leaks=0 (the engine's allocator and the fibers' stacks are never
# freed, on purpose).
step "run (AddressSanitizer)" env ASAN_OPTIONS=detect_leaks=0 "$build/mirrorlab_interpret_tests_asan" \
  --no-intro=true --duration=true -tc='conv2d CUDA kernels on AlexNet*,cuda parity*,interpret*'
echo "interpret: all steps took $((SECONDS - t_all)) s"
