#!/usr/bin/env bash
# tools/fetch_torchvision_weights.sh — torchvision's ImageNet-trained weights for RUNS (never for
# tests, never committed): downloads the checkpoint from download.pytorch.org into
# ~/.cache/mirrorlab/ (MIRRORLAB_CACHE), checks the SHA-256 prefix torchvision puts in the file
# name, and converts it with tools/export_torchvision_weights.py to <cache>/<model>.safetensors.
# Prints the safetensors path on its last line. torch, torchvision and safetensors come from the
# venv of bench/pytorch/torch_venv.sh (TORCH_VENV), torchvision and safetensors installed there
# when missing.
#   tools/fetch_torchvision_weights.sh alexnet     # -> ~/.cache/mirrorlab/alexnet.safetensors
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
model=${1:?usage: fetch_torchvision_weights.sh alexnet|vgg16}
case "$model" in
  alexnet) file=alexnet-owt-7be5be79.pth ;;
  vgg16) file=vgg16-397923af.pth ;;
  *) echo "fetch_torchvision_weights: unknown model '$model' (alexnet | vgg16)" >&2; exit 2 ;;
esac
cache=${MIRRORLAB_CACHE:-$HOME/.cache/mirrorlab}
mkdir -p "$cache"
pth=$cache/$file out=$cache/$model.safetensors
if [[ ! -s "$pth" ]]; then
  curl -fL --retry 3 -o "$pth.part" "https://download.pytorch.org/models/$file"
  mv "$pth.part" "$pth"
fi
want=${file##*-}; want=${want%.pth}
got=$(sha256sum "$pth" | cut -c1-${#want})
if [[ "$got" != "$want" ]]; then
  echo "fetch_torchvision_weights: $pth has SHA-256 prefix $got, its name says $want: removed" >&2
  rm -f "$pth"; exit 1
fi
if [[ ! -s "$out" || "$out" -ot "$pth" ]]; then
  source "$HERE/../bench/pytorch/torch_venv.sh"
  ensure_torch_venv fetch_torchvision_weights
  "$VENV/bin/python" -c 'import torchvision, safetensors' 2>/dev/null || "$VENV/bin/pip" install torchvision safetensors
  "$VENV/bin/python" "$HERE/export_torchvision_weights.py" "$model" "$out.part.safetensors" --pth "$pth"
  mv "$out.part.safetensors" "$out"
fi
echo "$out"
