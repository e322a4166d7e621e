# bench/pytorch/torch_venv.sh — sourced by the comparison scripts beside it (never run alone):
# PyPI's torch 2.15.0 in the virtual environment VENV (default TORCH_VENV, else
# $HOME/.cache/mirrorlab-torch-venv), installed there if it is missing.
#   source "$HERE/torch_venv.sh"; ensure_torch_venv SCRIPT_NAME   # sets VENV and TORCH_PYPI
#
# torch 2.15.0's own Requires-Dist pins for the CUDA libraries it links at import (the system's
# CUDA 13 supplies cuDNN, cuBLAS and cudart, so no GPU wheels are downloaded); cufile's pin is the
# one cuda-toolkit 13.2.2, which torch 2.15.0 requires, names. The pure-Python dependencies at
# torch's minimum versions or later. TORCH_WHEELS keeps the downloaded wheel (default: removed).
VENV=${TORCH_VENV:-$HOME/.cache/mirrorlab-torch-venv}
TORCH_VERSION=2.15.0
TORCH_CUDA_PINS=(nvidia-cusparselt-cu13==0.8.1 nvidia-nvshmem-cu13==3.7.2 "nvidia-cufile==1.17.1.22.*"
                 nvidia-nccl-cu13==2.30.7)
TORCH_PY_DEPS=("typing-extensions>=4.13.0" "setuptools>=77.0.3" "sympy>=1.13.3" "networkx>=2.5.1" jinja2
               "fsspec>=0.8.5" filelock numpy)

venv_torch_version() { "$VENV/bin/python" -c 'import torch; print(torch.__version__)' 2>/dev/null || true; }

# ensure_torch_venv NAME: install when $VENV lacks torch $TORCH_VERSION; NAME prefixes the error.
ensure_torch_venv() {
  local name=$1 wheels
  if [[ "$(venv_torch_version)" != "$TORCH_VERSION"* ]]; then
    echo "== installing torch $TORCH_VERSION from PyPI into $VENV (CPU use; no GPU wheels)"
    [[ -x "$VENV/bin/python" ]] || "${PYTHON:-python3}" -m venv "$VENV"
    wheels=${TORCH_WHEELS:-$VENV/wheels-download}
    mkdir -p "$wheels"
    "$VENV/bin/pip" download --no-deps "torch==$TORCH_VERSION" -d "$wheels"
    "$VENV/bin/pip" install --no-deps "$wheels"/torch-"$TORCH_VERSION"-*.whl
    "$VENV/bin/pip" install "${TORCH_PY_DEPS[@]}" "${TORCH_CUDA_PINS[@]}"
    [[ -n "${TORCH_WHEELS:-}" ]] || rm -rf "$wheels"
  fi
  TORCH_PYPI=$(venv_torch_version)
  if [[ -z "$TORCH_PYPI" ]]; then
    echo "$name: 'import torch' fails in $VENV:" >&2
    "$VENV/bin/python" -c 'import torch' >&2 || true
    exit 1
  fi
}
