#!/usr/bin/env bash
# tools/demo_architectures.sh — the mirror-symmetric viewpoint tuning index on every available
# architecture of the paper's Fig. 2—figure supplement 3 (AlexNet, VGG16, ResNet-50, ConvNeXt,
# ViT, VGG-Face, HMAX; EIG has no public weights in a standard format and is out of scope),
# called by tools/demo.sh --architectures; runnable on its own:
#
#   tools/demo_architectures.sh --bin BUILD --out OUT [--list all|a,b,..] [--weights NAME=FILE ..]
#                               [--seed S] [--device cpu|cuda] [--threads T] [--exemplars N]
#
# Each net is untrained (the study's N(0, 1/fan_in), seeded) unless --weights NAME=FILE gives
# trained weights for it (tools/export_torchvision_weights.py; tools/vggface_convert for
# vgg-face.mat). Stimuli: the procedural families rendered at 224 px (227 px for HMAX, as the
# paper feeds it), --exemplars per family (default 25, the paper's count). Results:
# OUT/architectures/<net>/msvt/ (mirror_symmetry's files) and OUT/architectures/<net>/source.txt
# (untrained or the weights file); tools/demo_report.py draws the Fig. 2—S3-like panel from them.
set -euo pipefail
cd "$(dirname "$0")/.."

ALL="alexnet vgg16 resnet50 convnext_tiny vit_b_16 vggface hmax"
bin="" out="" list=all seed=0 device=cpu threads="$(nproc)" exemplars=25
declare -A weights=()
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --list) list="$2"; shift 2 ;;
    --weights)
      [[ "$2" == *=* ]] || { echo "demo_architectures: --weights wants NAME=FILE, got '$2'" >&2; exit 2; }
      weights["${2%%=*}"]="${2#*=}"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --device) device="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --exemplars) exemplars="$2"; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "demo_architectures: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$bin" ] && [ -n "$out" ] || { echo "demo_architectures: --bin and --out are required" >&2; exit 2; }
[ "$list" = all ] && list="$ALL"
list="${list//,/ }"
for n in $list; do
  [[ " $ALL " == *" $n "* ]] || { echo "demo_architectures: unknown architecture '$n'; available: $ALL (EIG: out of scope, no public weights in a standard format)" >&2; exit 2; }
done
for n in "${!weights[@]}"; do
  [[ " $list " == *" $n "* ]] || { echo "demo_architectures: --weights for '$n', which is not in the list ($list)" >&2; exit 2; }
  [ "$n" != hmax ] || { echo "demo_architectures: HMAX takes no weights" >&2; exit 2; }
  [ -f "${weights[$n]}" ] || { echo "demo_architectures: --weights $n: no file '${weights[$n]}'" >&2; exit 2; }
done

root="$out/architectures"
mkdir -p "$root"
for s in 224 227; do
  need=0
  for n in $list; do { [ "$n" = hmax ] && [ $s = 227 ]; } || { [ "$n" != hmax ] && [ $s = 224 ]; } && need=1; done
  [ $need = 1 ] || continue
  if [ ! -f "$root/stimuli_$s/manifest.csv" ]; then
    "$bin/tools/render_stimuli" --out "$root/stimuli_$s" --size $s --seed "$seed" --exemplars "$exemplars" --quiet
  fi
done

for n in $list; do
  echo "== architectures: $n"
  common=(--seed "$seed" --device "$device" --threads "$threads" --label "$n" --quiet)
  if [ "$n" = hmax ]; then
    "$bin/experiments/mirror_symmetry" --model hmax --hmax-sample "$root/stimuli_227/manifest.csv" "${common[@]}" \
      --layers image,c1,c2 --stimuli "$root/stimuli_227/manifest.csv" --out "$root/$n/msvt"
    source="fixed (CBCL standard model, prototypes drawn from the stimuli)"
  elif [ -n "${weights[$n]:-}" ]; then
    "$bin/experiments/mirror_symmetry" --model "$n" --weights "${weights[$n]}" "${common[@]}" \
      --stimuli "$root/stimuli_224/manifest.csv" --out "$root/$n/msvt"
    source="weights ${weights[$n]}"
  else
    "$bin/experiments/mirror_symmetry" --model "$n" --untrained "${common[@]}" \
      --stimuli "$root/stimuli_224/manifest.csv" --out "$root/$n/msvt"
    source="untrained (N(0, 1/fan_in), seed $seed)"
  fi
  printf '%s\n' "$source" > "$root/$n/source.txt"
done
