#!/usr/bin/env bash
# tools/v1_compare_peers.sh — the V1 study's outside reference (issue 21, item 6): escnn's C8
# convolution (parameter count, equivariance error) and ci training speed against the same model
# in PyTorch, side by side (tools/v1_compare_peers.py says what each figure is).
#   tools/v1_compare_peers.sh --data CI_DATA [--runs K] [--steps S] [--threads T] [--torch-isa avx2]
# --torch-isa avx2 holds PyTorch to its AVX2 kernels, as bench/pytorch/run_compare.sh does:
# ATEN_CPU_CAPABILITY=avx2 (ATen's own kernels), ONEDNN_MAX_CPU_ISA=AVX2 (oneDNN, which runs the
# convolutions and dispatches on its own) and MKL_ENABLE_INSTRUCTIONS=AVX2 (the GEMMs); set beside
# FIT_V1 pointing at a -DMIRRORLAB_ARCH=x86-64-v3 build to compare the two on AVX2 + FMA.
# Environment: TORCH_VENV (default ~/.cache/mirrorlab-torch-venv: PyPI torch, installed by
# bench/pytorch/run_compare.sh if absent), ESCNN_VENV (default ~/.cache/mirrorlab-escnn-venv: made
# here from TORCH_VENV's interpreter, seeing its torch through a .pth file, plus `pip install escnn`).
# FIT_V1 (default build-cpu/experiments/fit_v1).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TV=${TORCH_VENV:-$HOME/.cache/mirrorlab-torch-venv}
EV=${ESCNN_VENV:-$HOME/.cache/mirrorlab-escnn-venv}
if ! "$TV/bin/python" -c 'import torch' 2>/dev/null; then
  echo "v1_compare_peers: no torch in $TV; installing it (bench/pytorch/run_compare.sh --only forward installs it first)" >&2
  echo "run: bench/pytorch/run_compare.sh, or set TORCH_VENV" >&2
  exit 2
fi
if ! "$EV/bin/python" -c 'import escnn, torch' 2>/dev/null; then
  "$TV/bin/python" -m venv "$EV"
  site=$("$TV/bin/python" -c 'import site; print(site.getsitepackages()[0])')
  esite=$("$EV/bin/python" -c 'import site; print(site.getsitepackages()[0])')
  echo "$site" > "$esite/mirrorlab-torch-venv.pth"
  "$EV/bin/pip" install escnn==1.0.11
fi
args=()
while [[ $# -gt 0 ]]; do
  if [[ "$1" == --torch-isa ]]; then
    [[ "${2:-}" == avx2 ]] || { echo "v1_compare_peers: --torch-isa takes avx2, got '${2:-}'" >&2; exit 2; }
    export ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2
    shift 2
  else
    args+=("$1")
    shift
  fi
done
echo "v1_compare_peers: ours ${FIT_V1:-$ROOT/build-cpu/experiments/fit_v1}; PyTorch ATEN_CPU_CAPABILITY=${ATEN_CPU_CAPABILITY:-unset}" \
  "ONEDNN_MAX_CPU_ISA=${ONEDNN_MAX_CPU_ISA:-unset} MKL_ENABLE_INSTRUCTIONS=${MKL_ENABLE_INSTRUCTIONS:-unset}"
exec "$EV/bin/python" "$ROOT/tools/v1_compare_peers.py" --fit-bin "${FIT_V1:-$ROOT/build-cpu/experiments/fit_v1}" "${args[@]}"
