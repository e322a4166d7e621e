#!/usr/bin/env bash
# tools/fetch_torchvision_weights.sh — torchvision's ImageNet-trained AlexNet or VGG16 as a
# safetensors file the engine loads (for RUNS only: never commit weights; tests never download).
#   bash tools/fetch_torchvision_weights.sh alexnet|vgg16   -> prints the .safetensors path
# Downloads the .pth once into ~/.cache/mirrorlab/, checks its SHA-256 against the prefix
# torchvision puts in the file name (alexnet-owt-7be5be79.pth: 7be5be79...), and converts it
# with tools/export_torchvision_weights.py in the torch venv (bench/pytorch/torch_venv.sh;
# torchvision and safetensors are installed there, without dependencies, if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
model="${1:?usage: fetch_torchvision_weights.sh alexnet|vgg16}"
case "$model" in
  alexnet) file=alexnet-owt-7be5be79.pth ;;
  vgg16) file=vgg16-397923af.pth ;;
  *) echo "fetch_torchvision_weights: unknown model '$model' (alexnet or vgg16)" >&2; exit 2 ;;
esac
cache="$HOME/.cache/mirrorlab"
mkdir -p "$cache"
pth="$cache/$file" out="$cache/${file%.pth}.safetensors"
want="${file##*-}"; want="${want%.pth}"
if [ ! -f "$pth" ]; then
  curl -fsSL --retry 3 -o "$pth.part" "https://download.pytorch.org/models/$file"
  mv "$pth.part" "$pth"
fi
got=$(sha256sum "$pth" | cut -c1-${#want})
if [ "$got" != "$want" ]; then
  echo "fetch_torchvision_weights: $pth has SHA-256 $got..., the name says $want...: removed, run again" >&2
  rm -f "$pth"; exit 1
fi
if [ ! -f "$out" ]; then
  source bench/pytorch/torch_venv.sh
  ensure_torch_venv fetch_torchvision_weights >&2
  py="$VENV/bin/python"
  # --no-deps: keep the venv's pinned torch.
  "$py" -c 'import torchvision, safetensors' 2>/dev/null || "$py" -m pip install -q --no-deps torchvision safetensors >&2
  "$py" tools/export_torchvision_weights.py "$model" "$out" --pth "$pth" >&2
fi
echo "$out"
