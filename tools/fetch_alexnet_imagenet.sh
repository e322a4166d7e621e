#!/usr/bin/env bash
# tools/fetch_alexnet_imagenet.sh — torchvision's ImageNet-trained AlexNet (IMAGENET1K_V1) as a
# safetensors file the engine loads, for runs only (weights are never committed):
#   1. downloads alexnet-owt-7be5be79.pth from torchvision's model server into the cache
#      (default ~/.cache/mirrorlab; MIRRORLAB_CACHE or --cache DIR), unless it is there;
#   2. checks that the file's SHA-256 starts with the 8 hex digits torchvision puts in its name
#      (7be5be79), and refuses it otherwise (a truncated or replaced download);
#   3. converts it with tools/export_torchvision_weights.py (torch, torchvision and safetensors
#      from the comparison venv, bench/pytorch/torch_venv.sh) to CACHE/alexnet-imagenet.safetensors
#      (written to a temporary name, then renamed).
# Prints the safetensors path on its last line. Usage:
#   bash tools/fetch_alexnet_imagenet.sh                 # download (once), verify, convert
#   bash tools/fetch_alexnet_imagenet.sh --pth FILE      # verify and convert a copy you already have
#                                                        # (its SHA-256 must still start with 7be5be79)
#   bash tools/fetch_alexnet_imagenet.sh --expect-sha PREFIX --pth FILE --out F.safetensors
#                                                        # another torchvision AlexNet checkpoint
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"

URL=https://download.pytorch.org/models/alexnet-owt-7be5be79.pth
SHA_PREFIX=7be5be79
cache=${MIRRORLAB_CACHE:-$HOME/.cache/mirrorlab}
pth="" out="" force=""
while [ $# -gt 0 ]; do
  case "$1" in
    --pth) pth="$2"; shift 2 ;;
    --cache) cache="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --expect-sha) SHA_PREFIX="$2"; shift 2 ;;
    --force) force=1; shift ;;  # convert again even when the safetensors file exists
    -h|--help) sed -n '2,/^set /{/^#/p}' "$0"; exit 0 ;;
    *) echo "fetch_alexnet_imagenet: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ "$SHA_PREFIX" =~ ^[0-9a-f]{8,64}$ ]] ||
  { echo "fetch_alexnet_imagenet: --expect-sha wants 8 to 64 lower-case hex digits, got '$SHA_PREFIX'" >&2; exit 2; }
mkdir -p "$cache"
out=${out:-$cache/alexnet-imagenet.safetensors}

if [ -z "$pth" ]; then
  pth="$cache/$(basename "$URL")"
  if [ ! -f "$pth" ]; then
    echo "fetch_alexnet_imagenet: downloading $URL"
    # -f: an HTTP error is a failure, not an HTML page saved under the weights' name.
    curl -fL --retry 2 --connect-timeout 30 -o "$pth.part" "$URL" ||
      { rm -f "$pth.part"; echo "fetch_alexnet_imagenet: download of $URL failed (no network to it?);" \
          "copy the file here and pass --pth FILE" >&2; exit 1; }
    mv "$pth.part" "$pth"
  fi
fi
[ -f "$pth" ] || { echo "fetch_alexnet_imagenet: --pth: no file '$pth'" >&2; exit 2; }

sha=$(sha256sum "$pth" | cut -d' ' -f1)
if [ "${sha:0:${#SHA_PREFIX}}" != "$SHA_PREFIX" ]; then
  echo "fetch_alexnet_imagenet: '$pth' has SHA-256 $sha, which does not start with $SHA_PREFIX" \
       "(torchvision's name for AlexNet IMAGENET1K_V1); refusing it: remove it and download again" >&2
  exit 1
fi
echo "fetch_alexnet_imagenet: $pth SHA-256 $sha (prefix $SHA_PREFIX agrees)"

# The converted file records the checkpoint's hash, so a stale conversion of another file is redone.
stamp="$out.sha256"
if [ -z "$force" ] && [ -f "$out" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$sha" ]; then
  echo "fetch_alexnet_imagenet: $out is already converted from it"
  echo "$out"
  exit 0
fi

# torch, torchvision and safetensors: the comparison venv (installed there when missing).
# shellcheck source=../bench/pytorch/torch_venv.sh
source "$root/bench/pytorch/torch_venv.sh"
ensure_torch_venv fetch_alexnet_imagenet
if ! "$VENV/bin/python" -c 'import torchvision, safetensors' 2>/dev/null; then
  echo "== installing torchvision and safetensors into $VENV (no dependencies: torch is pinned there)"
  "$VENV/bin/pip" install --no-deps torchvision safetensors pillow
fi
"$VENV/bin/python" "$root/tools/export_torchvision_weights.py" alexnet "$out" --pth "$pth"
printf '%s\n' "$sha" > "$stamp.tmp" && mv "$stamp.tmp" "$stamp"
echo "$out"
