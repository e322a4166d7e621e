#!/usr/bin/env bash
# bench/pytorch/train_compare.sh — engine training vs PyTorch training of the demo's recipe (issue 16).
#
#   bench/pytorch/train_compare.sh [--seeds 0,1] [--engine-dir out/demo] [--out out/compare]
#                                  [--variants "sym asym none"] [--threads 2] [--no-build]
#
# The same recipe on both sides (vgg_small, Fashion-MNIST 28x28, 3 epochs, Adam 1e-3, batch 256,
# 10 % validation hold-out, sym/asym flips with p = 0.5; train_compare.py lists every setting),
# the same seeds, and every net analysed by the engine's own mirror_symmetry and equivariance on
# the same stimuli (the demo's, ENGINE_DIR/stimuli/manifest.csv). Output: OUT/compare.md and
# compare.csv -- test accuracy, the pooled fc index (released definition) per variant, the fc
# invariance under hflip/vflip/rot90, and the fc index per family, engine vs PyTorch, mean ± SD
# over seeds, and per row whether the two agree within the seed spread.
#
# 1. Installs PyPI's torch 2.15.0 into TORCH_VENV (default ~/.cache/mirrorlab-torch-venv) as
#    run_compare.sh does (no GPU wheels) unless it is there; PyTorch is never a test dependency.
# 2. Builds train, render_stimuli, mirror_symmetry, equivariance in BUILD_DIR (default build-cpu);
#    --no-build uses the programs already there.
# 3. Engine nets: ENGINE_DIR's runs of tools/demo.sh (ENGINE_DIR/train and ENGINE_DIR/nets for the
#    seed their final.json records, ENGINE_DIR/seeds/S/... for the others), reused with their
#    analyses when present; a missing run is trained here, into ENGINE_DIR/seeds/S, with the demo's command. The stimuli are rendered (seed = first
#    seed) when ENGINE_DIR has none.
# 4. PyTorch nets: train_compare.py train, one process per net, into OUT/pytorch/seed_S/VARIANT
#    (final.safetensors in the engine's names and metadata; final.json); a finished one is reused.
# 5. Analyses of every net not yet analysed (mirror_symmetry --no-plot, equivariance --noise 0:
#    the table reads the stimuli image set only), then the table (train_compare.py table).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
BUILD=${BUILD_DIR:-$ROOT/build-cpu}
seeds=0,1 engine=out/demo out=out/compare variants="sym asym none" threads=2 build=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seeds) seeds=$2; shift 2 ;;
    --engine-dir) engine=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --variants) variants=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --no-build) build=""; shift ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    *) echo "train_compare.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
IFS=',' read -r -a S <<< "$seeds"
[[ ${#S[@]} -ge 1 ]] || { echo "train_compare.sh: --seeds: no seed in '$seeds'" >&2; exit 2; }
for s in "${S[@]}"; do
  [[ "$s" =~ ^[0-9]+$ ]] || { echo "train_compare.sh: --seeds: '$s' is not a whole number >= 0" >&2; exit 2; }
  [[ $(printf '%s\n' "${S[@]}" | grep -cx "$s") -eq 1 ]] ||
    { echo "train_compare.sh: --seeds: seed $s appears twice in '$seeds'" >&2; exit 2; }
done
for v in $variants; do
  case "$v" in none|sym|asym) ;; *) echo "train_compare.sh: --variants: unknown variant '$v'" >&2; exit 2 ;; esac
done
[[ "$threads" =~ ^[1-9][0-9]*$ ]] || { echo "train_compare.sh: --threads wants a positive integer, got '$threads'" >&2; exit 2; }

# ---- 1. PyPI torch, pinned (the same block as run_compare.sh) -------------------------------------
source "$(dirname "${BASH_SOURCE[0]}")/torch_venv.sh"
ensure_torch_venv train_compare.sh
TORCH=$TORCH_PYPI
echo "PyPI torch: $TORCH ($VENV)"
PY="$VENV/bin/python"

# ---- 2. the engine's programs ---------------------------------------------------------------------
if [[ -n "$build" ]]; then
  [[ -f "$BUILD/CMakeCache.txt" ]] || cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMIRRORLAB_CUDA=OFF
  cmake --build "$BUILD" -j2 --target train render_stimuli mirror_symmetry equivariance
fi
for p in experiments/train tools/render_stimuli experiments/mirror_symmetry experiments/equivariance; do
  [[ -x "$BUILD/$p" ]] || { echo "train_compare.sh: no $BUILD/$p (run without --no-build)" >&2; exit 2; }
done
export OMP_NUM_THREADS="$threads"
stim="$engine/stimuli/manifest.csv"
[[ -f "$stim" ]] || "$BUILD/tools/render_stimuli" --out "$engine/stimuli" --size 28 --seed "${S[0]}"

# ---- 3-5. nets and analyses -----------------------------------------------------------------------
analyse() {  # analyse WEIGHTS DIR: mirror_symmetry and equivariance unless done
  [[ -f "$2/msvt/msvt.csv" ]] || "$BUILD/experiments/mirror_symmetry" --weights "$1" --stimuli "$stim" --seed 0 \
    --threads "$threads" --quiet --no-plot --out "$2/msvt"
  [[ -f "$2/equivariance/equivariance.csv" ]] || "$BUILD/experiments/equivariance" --weights "$1" --stimuli "$stim" \
    --seed 0 --noise 0 --threads "$threads" --quiet --out "$2/equivariance"
}
# The engine run of seed s: ENGINE_DIR itself when its first-seed run (ENGINE_DIR/train/v) was
# trained with seed s, as its final.json records, else ENGINE_DIR/seeds/s (the demo's other seeds;
# trained there when absent). Not from --seeds' order: `--seeds 5,6` must not take seed 0's nets.
seed_of() { "$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["seed"])' "$1"; }
for s in "${S[@]}"; do
  for v in $variants; do
    if [[ -f "$engine/train/$v/final.json" && "$(seed_of "$engine/train/$v/final.json")" == "$s" ]]; then
      eroot="$engine"
    else
      eroot="$engine/seeds/$s"
    fi
    # Engine side: the demo's run and analyses when present.
    run="$eroot/train/$v" dst="$out/engine/seed_$s/$v"
    if [[ ! -f "$run/final.json" ]]; then
      echo "== engine: training $v, seed $s"
      "$BUILD/experiments/train" --model vgg_small --dataset fashion-mnist --variant "$v" --epochs 3 --optimizer adam \
        --lr 1e-3 --seed "$s" --threads "$threads" --out "$run"
    fi
    mkdir -p "$dst"
    cp "$run/final.json" "$dst/final.json"
    for a in msvt equivariance; do
      [[ -e "$dst/$a" || ! -d "$eroot/nets/$v/$a" ]] || cp -r "$eroot/nets/$v/$a" "$dst/$a"
    done
    analyse "$run/final.safetensors" "$dst"
    # PyTorch side.
    p="$out/pytorch/seed_$s/$v"
    if [[ ! -f "$p/final.json" ]]; then
      echo "== PyTorch: training $v, seed $s"
      "$PY" "$ROOT/bench/pytorch/train_compare.py" train --variant "$v" --seed "$s" --threads "$threads" --out "$p"
    fi
    analyse "$p/final.safetensors" "$p"
  done
done
"$PY" "$ROOT/bench/pytorch/train_compare.py" table --engine "$out/engine" --pytorch "$out/pytorch" --seeds "$seeds" --out "$out"
echo "train_compare.sh: $out/compare.md"
