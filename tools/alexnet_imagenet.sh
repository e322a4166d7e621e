#!/usr/bin/env bash
# tools/alexnet_imagenet.sh — the mirror study's claims about an ImageNet-trained AlexNet, checked
# on the project's rendered stimuli (9 families x 25 exemplars x 9 views, 224 px): the optional
# step `bash tools/demo.sh --alexnet-imagenet` (or run alone after a build).
#   1. mirror_symmetry on the trained net and on an untrained one (N(0, 1/fan_in), seed S) at the
#      ReLU outputs relu1...relu5, relu6 (fc6), relu7 (fc7) — Fig. 2C and 2-S2A;
#   2. msvt_rank_sum: trained vs untrained per family and layer, Benjamini-Yekutieli q 0.05 (2-S2B);
#   3. mirror_units: face-selective and mirror units per layer, the trained net against R untrained
#      nets (seeds S+1...S+R, Student-t intervals; 5-S2...S4, "trained fc6 more than twice");
#   4. optionally (--rise-masks N > 0) RISE maps of one object per family through fc6 (Fig. 5);
#   5. tools/alexnet_report.py: alexnet_imagenet.html (a report section) and verdicts.json, one
#      computed verdict per claim.
# The weights: --weights FILE, else tools/fetch_torchvision_weights.sh alexnet (download once into
# ~/.cache/mirrorlab/torchvision, SHA-256 prefix checked, converted; never committed).
# Caveat written into the report: the paper's Fig. 2/5 net is MATLAB's (Caffe BVLC) AlexNet at
# 227 px; this is torchvision's (no LRN, no groups) at 224 px, as in its Fig. 3.
#
#   bash tools/alexnet_imagenet.sh --bin build-cpu --out out/demo/alexnet_imagenet [--stimuli M]
#        [--weights F] [--untrained-nets 10] [--rise-masks 0] [--seed 0] [--threads T] [--device cpu]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build-cpu out=out/alexnet_imagenet stimuli="" weights="" untrained_nets=10 rise_masks=0 seed=0 threads="$(nproc)" device=cpu
label=alexnet_imagenet
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --stimuli) stimuli="$2"; shift 2 ;;
    --weights) weights="$2"; shift 2 ;;
    --label) label="$2"; shift 2 ;;  # the trained net's name in the outputs (e.g. for a stand-in's dry run)
    --untrained-nets) untrained_nets="$2"; shift 2 ;;
    --rise-masks) rise_masks="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --device) device="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set /{/^#/p}' "$0"; exit 0 ;;
    *) echo "alexnet_imagenet: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ "$untrained_nets" =~ ^[0-9]+$ ]] && { [ "$untrained_nets" = 0 ] || [ "$untrained_nets" -ge 2 ]; } ||
  { echo "alexnet_imagenet: --untrained-nets must be 0 or >= 2 (a t interval needs 2 nets), got '$untrained_nets'" >&2; exit 2; }
[[ "$rise_masks" =~ ^[0-9]+$ ]] || { echo "alexnet_imagenet: --rise-masks must be a whole number, got '$rise_masks'" >&2; exit 2; }
[[ "$seed" =~ ^[0-9]+$ ]] || { echo "alexnet_imagenet: --seed must be a whole number, got '$seed'" >&2; exit 2; }
bin="$(cd "$bin" && pwd)"
for p in experiments/mirror_symmetry experiments/msvt_rank_sum experiments/mirror_units tools/render_stimuli; do
  [ -x "$bin/$p" ] || { echo "alexnet_imagenet: '$bin/$p' is not built (cmake --build $bin --target $(basename "$p"))" >&2; exit 2; }
done
if [ -z "$weights" ]; then weights=$(bash tools/fetch_torchvision_weights.sh alexnet | tail -n 1); fi
[ -f "$weights" ] || { echo "alexnet_imagenet: --weights: no file '$weights'" >&2; exit 2; }
py="${MIRRORLAB_PYTHON:-/usr/bin/python3}"
export OMP_NUM_THREADS="$threads"
mkdir -p "$out"
now() { date +%s; }
t0=$(now)

if [ -z "$stimuli" ]; then
  stimuli="$out/stimuli_224/manifest.csv"
  [ -f "$stimuli" ] || "$bin/tools/render_stimuli" --out "$out/stimuli_224" --size 224 --seed "$seed" --quiet
fi
layers=relu1,relu2,relu3,relu4,relu5,relu6,relu7
common=(--seed "$seed" --device "$device" --threads "$threads" --layers "$layers" --quiet)
echo "== alexnet_imagenet: the index per layer, trained ($weights) and untrained"
"$bin/experiments/mirror_symmetry" --model alexnet --weights "$weights" --label "$label" "${common[@]}" \
  --stimuli "$stimuli" --out "$out/trained/msvt"
"$bin/experiments/mirror_symmetry" --model alexnet --untrained --label alexnet_untrained "${common[@]}" \
  --stimuli "$stimuli" --out "$out/untrained/msvt"
"$bin/experiments/msvt_rank_sum" --trained "$out/trained/msvt" --untrained "$out/untrained/msvt" --out "$out/rank_sum"
t_msvt=$(($(now) - t0))

echo "== alexnet_imagenet: face-selective and mirror units (trained vs $untrained_nets untrained nets)"
t1=$(now)
units_args=()
[ "$untrained_nets" = 0 ] || units_args=(--untrained-nets "$untrained_nets")
"$bin/experiments/mirror_units" --model alexnet --weights "$weights" --label "$label" "${common[@]}" \
  --verdict-layer relu6 "${units_args[@]}" --stimuli "$stimuli" --out "$out/units"
t_units=$(($(now) - t1))

t_rise=0
if [ "$rise_masks" -gt 0 ]; then
  [ -x "$bin/experiments/importance_maps" ] ||
    { echo "alexnet_imagenet: '$bin/experiments/importance_maps' is not built" >&2; exit 2; }
  echo "== alexnet_imagenet: RISE through fc6, one object per family, $rise_masks masks"
  t1=$(now)
  "$bin/experiments/importance_maps" --model alexnet --weights "$weights" --layer fc6 --preset cpu --masks "$rise_masks" \
    --stimuli "$stimuli" --mask-seed "$seed" --device "$device" --threads "$threads" --quiet --out "$out/rise"
  t_rise=$(($(now) - t1))
fi
printf '{"weights": "%s", "label": "%s", "stimuli": "%s", "seed": %s, "untrained_nets": %s, "rise_masks": %s, "threads": %s, "device": "%s",
 "seconds": {"msvt": %s, "units": %s, "rise": %s, "total": %s}}\n' "$weights" "$label" "$stimuli" "$seed" "$untrained_nets" "$rise_masks" \
  "$threads" "$device" "$t_msvt" "$t_units" "$t_rise" "$(($(now) - t0))" > "$out/step.json.tmp"
mv "$out/step.json.tmp" "$out/step.json"
"$py" tools/alexnet_report.py "$out"
