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
# Each step prints its wall time. Measured from an empty build folder without ccache
# (CCACHE_DISABLE=1 JOBS=2 ML_INTERP_BUILD=build-interp-ci bash tools/ci/interpret.sh) on the
# shared 2-core machine at a load average of 12-15: 5.1 min of CPU (user 280 s + sys 23 s),
# 23.9 min of wall time (build 17.4 min, forward + reverse runs 3.8 min, ASan run 2.7 min).
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

# One process per run, the cases in sequence; OMP_NUM_THREADS=1: the CPU references
# single-threaded, as tools/test.sh runs the suite. The forward and reverse runs are
# single-threaded, so they run side by side on two cores; their logs print when both are done.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
export ML_CONV_SWEEP_EVERY="$every"
bin="$build/mirrorlab_interpret_tests"
t0=$SECONDS
echo "interpret: run (forward order) and run (reverse order: ML_INTERP_REVERSE=1)"
"$bin" --no-intro=true --duration=true >"$build/forward.log" 2>&1 &
forward=$!
ML_INTERP_REVERSE=1 "$bin" --no-intro=true --duration=true >"$build/reverse.log" 2>&1 &
reverse=$!
rc_f=0 rc_r=0
wait "$forward" || rc_f=$?
wait "$reverse" || rc_r=$?
echo "---- forward order ($build/forward.log)"; cat "$build/forward.log"
echo "---- reverse order ($build/reverse.log)"; cat "$build/reverse.log"
echo "interpret: the two runs took $((SECONDS - t0)) s"
if [ "$rc_f" -ne 0 ] || [ "$rc_r" -ne 0 ]; then
  echo "interpret: FAILED (forward exit $rc_f, reverse exit $rc_r)"
  exit 1
fi
# AddressSanitizer: detect_leaks=0 (the engine's allocator and the fibers' stacks are never
# freed, on purpose).
step "run (AddressSanitizer)" env ASAN_OPTIONS=detect_leaks=0 "$build/mirrorlab_interpret_tests_asan" \
  --no-intro=true --duration=true -tc='conv2d CUDA kernels on AlexNet*,cuda parity*,interpret*'
echo "interpret: all steps took $((SECONDS - t_all)) s"
