#!/usr/bin/env bash
# bench/peers/run_compare.sh — HMAX and HOG against their peers in one run (issue 17):
#   ours   bench_cpu's hmax_to_c2/16 and hog_* (bench/cpu/bench_hmax_hog.cpp), OMP_NUM_THREADS=T
#   PyTorch  bench/peers/hmax_torch.py, the same model to C2, torch.set_num_threads(T), from the
#            virtual environment of bench/pytorch/run_compare.sh (TORCH_VENV; skipped if absent)
#   scikit-image  bench/peers/hog_skimage.py (Debian python3-skimage; skipped if absent)
# alternating ours / peer K times so other users' load falls on both. Prints each line as it runs.
# Usage: bench/peers/run_compare.sh [--runs K] [--threads T] [--bench-cpu PATH] [--only hmax|hog]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
runs=3 threads=2 bench="$ROOT/build-cpu/bench/bench_cpu" only=all
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --bench-cpu) bench="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    *) echo "run_compare: unknown option '$1'" >&2; exit 2 ;;
  esac
done
venv=${TORCH_VENV:-$HOME/.cache/mirrorlab-torch-venv}
[ -x "$bench" ] || { echo "run_compare: no bench_cpu at $bench (cmake --build build-cpu --target bench_cpu)" >&2; exit 2; }
case "$only" in
  all) filter='hmax_to_c2|hog_' ;;
  hmax) filter='hmax_to_c2' ;;
  hog) filter='hog_' ;;
  *) echo "run_compare: --only takes hmax or hog, got '$only'" >&2; exit 2 ;;
esac
for r in $(seq "$runs"); do
  echo "== run $r ($(uptime | sed 's/.*load/load/')) =="
  OMP_NUM_THREADS=$threads "$bench" --benchmark_filter="$filter" 2>/dev/null | grep -E 'hmax|hog'
  if [ "$only" = hog ]; then
    :
  elif [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import torch' 2>/dev/null; then
    OMP_NUM_THREADS=$threads "$venv/bin/python" "$ROOT/bench/peers/hmax_torch.py" "$threads"
  else
    echo "hmax_torch: skipped (no torch in $venv; bench/pytorch/run_compare.sh installs it)"
  fi
  if [ "$only" = hmax ]; then
    :
  elif /usr/bin/python3 -c 'import skimage' 2>/dev/null; then
    /usr/bin/python3 "$ROOT/bench/peers/hog_skimage.py"
  else
    echo "hog_skimage: skipped (apt-get install python3-skimage)"
  fi
done
