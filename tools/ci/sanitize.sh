#!/usr/bin/env bash
# tools/ci/sanitize.sh — the CPU suite under AddressSanitizer + UndefinedBehaviorSanitizer
# (gcc, -fsanitize=address,undefined -fno-sanitize-recover=all), in its own build folder
# (build-asan), CPU only, without the benchmarks. Any report fails the test that made it and
# with it this stage. The suite runs whole; SANITIZE_EXCLUDE (a ctest -E regex) can leave out
# tests, with the reason stated next to the value below.
#   bash tools/ci/sanitize.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

build="${SANITIZE_BUILD:-build-asan}"
jobs="${JOBS:-$(nproc)}"
flags="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g1"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)

start=$(date +%s)
# -O1, as the sanitizers' documentation advises: a fraction of -O3's compile time (Eigen-heavy
# kernels), still fast enough to run the suite, and no optimisation hides a bad access.
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O1 -DNDEBUG" \
  -DMIRRORLAB_CUDA=OFF -DMIRRORLAB_BENCH=OFF -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" "${launcher[@]}" >/dev/null
# Only what ctest runs: the suite calls the study code as functions, not through the driver
# programs, so the 20 drivers (CLI11-heavy mains, each linked under ASan) are not built here;
# the main build has already compiled them. forward_taps serves the torchvision test.
cmake --build "$build" -j "$jobs" --target mirrorlab_tests forward_taps
echo "sanitize: built in $(($(date +%s) - start)) s"

# Leaks are reported too; a report aborts the process (a failed test, never a warning).
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1:check_initialization_order=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
exclude="${SANITIZE_EXCLUDE:-^$}"
OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" ctest --test-dir "$build" -j "$jobs" --output-on-failure --timeout 1200 \
  -E "$exclude"
echo "sanitize: built and ran in $(($(date +%s) - start)) s"
