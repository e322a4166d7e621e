#!/usr/bin/env bash
# tools/encoding_standard.sh — the encoding study's SimVox standard preset as
# eickenberg2017-encoding.md §6 pins it for the 2-core CPU: the small VGG-like net trained on
# Fashion-MNIST at 32 px (the 28-px items padded by 2 px of their background, `train --pad 2`), half
# of its training images shown as the study's composites (`--composites 0.5`: the item on a 1/f or
# grating background in a gray aperture, so that the net recognises the stimuli it is read out on;
# the plain-trained net put 14 % of the A/B composites in their class set, this one 94 %), then
# `encoding --preset standard` on that net (the eight pass checks in OUT/run/report.md).
#
#   bash tools/encoding_standard.sh [OUT]          default OUT = out/encoding-standard
#
# Environment (all optional): BUILD (build folder, default build-cpu), EPOCHS (training epochs,
# default 2), COMPOSITES (share of composite training images, default 0.5), THREADS (default 2), SEED (default 0). A net already in OUT/net is reused.
set -euo pipefail
OUT=${1:-out/encoding-standard}
BUILD=${BUILD:-build-cpu}
EPOCHS=${EPOCHS:-2}
COMPOSITES=${COMPOSITES:-0.5}
THREADS=${THREADS:-2}
SEED=${SEED:-0}
for p in train encoding; do
  [[ -x "$BUILD/experiments/$p" ]] || { echo "encoding_standard.sh: build $BUILD/experiments/$p first (cmake --build $BUILD --target $p)" >&2; exit 1; }
done
if [[ ! -f "$OUT/net/final.safetensors" ]]; then
  "$BUILD/experiments/train" --model vgg_small --dataset fashion-mnist --variant none --pad 2 --composites "$COMPOSITES" --epochs "$EPOCHS" \
    --optimizer adam --lr 1e-3 --batch-size 256 --seed "$SEED" --threads "$THREADS" --quiet --out "$OUT/net"
fi
"$BUILD/experiments/encoding" --preset standard --weights "$OUT/net/final.safetensors" --seed "$SEED" \
  --threads "$THREADS" --out "$OUT/run"
