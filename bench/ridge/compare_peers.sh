#!/usr/bin/env bash
# bench/ridge/compare_peers.sh — our ridge_cv beside himalaya's KernelRidgeCV (numpy backend) and
# scikit-learn's RidgeCV on the paper-sized encoding layer (eickenberg2017-encoding.md §7), same
# group folds, penalties and threads; both peers installed from PyPI in their own venv
# (../shared/PEERS.md). Usage: bash bench/ridge/compare_peers.sh [BUILD_DIR] [THREADS] [bench_ridge options...]
# AVX2 on both sides: SKIP_SKLEARN=1 OPENBLAS_CORETYPE=Haswell bash bench/ridge/compare_peers.sh build-v3 2
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-build-cpu}"; threads="${2:-2}"; shift $(( $# > 2 ? 2 : $# )) || true
venv="${MIRRORLAB_PEERS_VENV:-$here/.venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q numpy scikit-learn himalaya packaging  # himalaya imports packaging without declaring it
fi
dump="$(mktemp -d)"
trap 'rm -rf "$dump"' EXIT
export OMP_NUM_THREADS="$threads" OPENBLAS_NUM_THREADS="$threads" MKL_NUM_THREADS="$threads"
"$build/bench/bench_ridge" --threads "$threads" --dump "$dump" "$@"
"$venv/bin/python" "$here/compare_peers.py" "$dump"
