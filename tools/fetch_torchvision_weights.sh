#!/usr/bin/env bash
# tools/fetch_torchvision_weights.sh — torchvision's ImageNet-trained weights (IMAGENET1K_V1) for
# the nets the engine builds, downloaded once from download.pytorch.org, checked, and converted
# to the engine's safetensors by tools/export_torchvision_weights.py. For runs only (the demo's
# --arch-weights, the studies' --weights): never committed, never read by the tests.
#
#   tools/fetch_torchvision_weights.sh [NET ...]   (default: resnet50 convnext_tiny vit_b_16;
#                                                   also alexnet, vgg16)
#   tools/fetch_torchvision_weights.sh --pth FILE NET
#       a checkpoint you already have (no network needed): copied into the cache when its SHA-256
#       starts with the prefix in torchvision's name for NET, refused otherwise.
#
# The URL comes from torchvision itself (<Weights>.IMAGENET1K_V1.url); the file name ends in the
# first hex digits of its SHA-256 (resnet50-0676ba61.pth), which is checked before the
# conversion. Files: ~/.cache/mirrorlab/torchvision/<name>.pth and <net>.safetensors beside it
# (MIRRORLAB_CACHE overrides ~/.cache/mirrorlab). Prints one line per net: the safetensors path.
# PyPI torch + torchvision + safetensors come from the venv of bench/pytorch/torch_venv.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${MIRRORLAB_CACHE:-$HOME/.cache/mirrorlab}/torchvision
# The pinned PyPI torch venv (TORCH_VENV or its default), created when missing; torchvision and
# safetensors are added without dependencies so the pinned torch stays.
source bench/pytorch/torch_venv.sh
ensure_torch_venv fetch_torchvision_weights >&2
PY="$VENV/bin/python"
"$PY" -c 'import torchvision, safetensors' 2>/dev/null ||
  "$PY" -m pip install -q --no-deps torchvision safetensors >&2
given_pth=""
if [ "${1:-}" = "--pth" ]; then
  given_pth=${2:?fetch_torchvision_weights: --pth wants a file}; shift 2
  [ -f "$given_pth" ] || { echo "fetch_torchvision_weights: --pth: no file '$given_pth'" >&2; exit 2; }
  [ $# -eq 1 ] || { echo "fetch_torchvision_weights: --pth FILE takes exactly one NET" >&2; exit 2; }
fi
nets=("$@")
[ ${#nets[@]} -gt 0 ] || nets=(resnet50 convnext_tiny vit_b_16)
declare -A enum=([alexnet]=AlexNet_Weights [vgg16]=VGG16_Weights [resnet50]=ResNet50_Weights
                 [convnext_tiny]=ConvNeXt_Tiny_Weights [vit_b_16]=ViT_B_16_Weights)
mkdir -p "$DIR"
for n in "${nets[@]}"; do
  [ -n "${enum[$n]:-}" ] || { echo "fetch_torchvision_weights: unknown net '$n'; known: ${!enum[*]}" >&2; exit 2; }
  url=$("$PY" -c "import torchvision.models as m; print(m.${enum[$n]}.IMAGENET1K_V1.url)")
  file="$DIR/$(basename "$url")"
  want=$(basename "$url" .pth); want=${want##*-}  # the hash prefix in the name
  [[ "$want" =~ ^[0-9a-f]{6,}$ ]] || { echo "fetch_torchvision_weights: $url carries no hash prefix" >&2; exit 1; }
  if [ -n "$given_pth" ]; then
    cp "$given_pth" "$file.part" && mv "$file.part" "$file"
  elif [ ! -f "$file" ]; then
    curl -fL --retry 3 --connect-timeout 30 -o "$file.part" "$url" ||
      { rm -f "$file.part"; echo "fetch_torchvision_weights: download of $url failed (no network to it?);" \
          "copy the file here and pass --pth FILE $n" >&2; exit 1; }
    mv "$file.part" "$file"
  fi
  got=$(sha256sum "$file" | cut -c1-${#want})
  if [ "$got" != "$want" ]; then
    echo "fetch_torchvision_weights: $file: SHA-256 starts $got, its name says $want (corrupt or another file; removed)" >&2
    rm -f "$file"
    exit 1
  fi
  out="$DIR/$n.safetensors"
  if [ ! -f "$out" ] || [ "$out" -ot "$file" ]; then
    "$PY" tools/export_torchvision_weights.py "$n" "$out.tmp.safetensors" --pth "$file" >&2
    mv "$out.tmp.safetensors" "$out"
  fi
  echo "$out"
done
