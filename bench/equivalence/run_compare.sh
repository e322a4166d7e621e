#!/usr/bin/env bash
# bench/equivalence/run_compare.sh — the equivariance map's Gram + ridge solve, engine against
# NumPy/SciPy (Debian's python3-numpy, python3-scipy), same shape and threads, in one run.
#   bash bench/equivalence/run_compare.sh [BUILD_DIR] [THREADS] [IMAGES] [RUNS]
# Prints each part's median time for both and the ratio NumPy / engine (> 1: the engine is faster).
# IMAGES (default 1000: 64,000 rows) and RUNS (NumPy's repetitions, default 5; the engine's
# google-benchmark runs at least 2 s per part) shrink both sides alike on a loaded machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
build="${1:-build-cpu}" threads="${2:-2}" images="${3:-1000}" runs="${4:-5}"
cmake --build "$build" --target bench_equivalence >/dev/null
# The peer runs on Debian's python3 with its NumPy (OpenBLAS) and SciPy, installed here if missing.
py=/usr/bin/python3
if ! "$py" -c 'import numpy, scipy' 2>/dev/null; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get install -y -qq --no-install-recommends python3-numpy python3-scipy >/dev/null
fi
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(grep -o 'avx512f' /proc/cpuinfo | head -1 || echo 'no avx512f'), threads $threads"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg), images $images (rows $((64 * images)))"
eng=$(BENCH_EQ_IMAGES=$images OMP_NUM_THREADS=$threads "$build/bench/bench_equivalence" --benchmark_format=csv 2>/dev/null |
      awk -F, '/^"BM_/ {gsub(/"|BM_/, "", $1); sub(/\/.*/, "", $1); print $1, $3}')
npy=$(OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads "$py" bench/equivalence/gram_numpy.py --images "$images" --runs "$runs")
echo "peer: numpy $("$py" -c 'import numpy; print(numpy.__version__)'), scipy $("$py" -c 'import scipy; print(scipy.__version__)')"
printf '%-12s %10s %10s %8s\n' part engine_ms numpy_ms ratio
while read -r name ms; do
  n=$(awk -v k="$name" '$1 == k {print $2}' <<<"$npy")
  awk -v a="$ms" -v b="$n" -v k="$name" 'BEGIN {printf "%-12s %10.1f %10.1f %8.2f\n", k, a, b, b / a}'
done <<<"$eng"
