#!/usr/bin/env bash
# tools/demo.sh — the main job (README command 1): the mirror-symmetry study (Farzmahdi et al.
# 2024) on data that ships with Debian, from a fresh machine to out/demo/report.html.
#
#   1. installs what is missing (tools/setup.sh) and builds the programs it needs;
#   2. renders the 9 procedural object families x 25 exemplars x 9 views at 28x28
#      (tools/render_stimuli), plus copies whose objects' right side is deformed by A
#      (the symmetry-breaking experiment the paper could not run);
#   3. trains vgg_small on Fashion-MNIST three times per training seed -- labels as they are (none),
#      mirrored images with the same label (sym), mirrored images with label + 10 (asym);
#   4. runs mirror_symmetry and equivariance on the three trained nets and an untrained one, for
#      every seed (the first seed's nets in OUT/train, OUT/nets; seed S's in OUT/seeds/S/...);
#   5. RISE importance maps with the Figure 5 controls on the sym net's fc1 (importance_maps,
#      one object per family; --rise sets the preset);
#   6. compares the nets with simulated face-patch populations (Fig. 6: simulate_population +
#      neural_alignment) and runs the supplementary figures 2-S7, 2-S8, 5-S2...S4 (first seed);
#   7. writes the report (tools/demo_report.py).
#
# Options (all optional):
#   --epochs N            training epochs per net (default 3)
#   --seed S              every random choice: stimuli, init, shuffling, nulls (default 0)
#   --seeds N             N training seeds per variant: S, S+1, ..., S+N-1 (default 2; the stimuli
#                         are rendered once, with S); the report gives the mean and spread over seeds
#                         and says whether each verdict holds for every seed or for the mean only.
#                         CPU preset for a fuller check: --seeds 5 (estimated 35 min on 2 quiet cores)
#   --seed-list "A,B,.."  the training seeds themselves (instead of --seed/--seeds; no duplicates)
#   --resume              reuse the finished runs and analyses in OUT (a run cut short continues
#                         from its checkpoint); refused when OUT was started with another seed set.
#                         Every step whose output exists is skipped (rendering, training, analyses,
#                         RISE, alignment, supplementary figures, classic models), so on a finished
#                         OUT, --resume --classic runs only the classic steps, then the report
#   --build-arch A        build with -march=A (MIRRORLAB_ARCH, e.g. x86-64-v3 = AVX2) in build-cpu-A
#   --out DIR             results folder (default out/demo)
#   --threads T           OpenMP threads (default: all cores)
#   --asymmetry "A B .."  deformation levels of the symmetry-breaking experiment (default "0.1 0.25 0.5")
#   --dataset D --data-dir DIR   train on cifar10 or svhn files instead (the paper's Figure 4;
#                         32x32 RGB, the notebooks' recipe; use --epochs 250 for the full runs)
#   --alexnet-weights F   also analyse AlexNet (torchvision names; tools/export_torchvision_weights.py)
#                         and an untrained AlexNet on 224-px stimuli (the paper's Figures 2-3);
#                         results in OUT/alexnet/
#   --alexnet-imagenet    also check the paper's trained-AlexNet claims (Figs. 2C, 2-S2, 5-S4) on
#                         224-px stimuli with torchvision's ImageNet weights (tools/alexnet_imagenet.sh;
#                         downloaded once into ~/.cache/mirrorlab by tools/fetch_torchvision_weights.sh, or
#                         the --alexnet-weights file); results and verdicts in OUT/alexnet_imagenet/.
#                         13 AlexNet passes over 2025 images: ~45 CPU-minutes (one mirror_symmetry
#                         run on AlexNet took 3.7 CPU-minutes on this 2-core machine)
#   --device cpu|cuda     default: cuda when a GPU answers, else cpu
#   --classic             also the two hand-designed models (issue 17): HMAX (CBCL standard model,
#                         models/hmax.h) on 227-px renders of the stimuli, the index per layer
#                         image, c1, c2 as Fig. 2-S3 (1000 S2 prototypes drawn from the stimuli
#                         with --seed, kept in OUT/classic/hmax_prototypes.safetensors), and HOG
#                         (UoCTTI, 8 orientations, 8-px cells, 224 px): invariance and equivariance
#                         under hflip, vflip, rot90 with its channel permutation. Results in
#                         OUT/classic/{hmax/msvt,hog/equivariance}; the report gives both tables and
#                         a verdict each (HMAX: the index peaks at C2 above its floor; HOG: exactly
#                         equivariant). About 6 CPU-minutes (HMAX step 322 CPU-s, HOG 40 CPU-s,
#                         bench/RESULTS.md, session 3). On a finished OUT: --resume --classic
#                         (delete OUT/classic to recompute it)
#   --rise cpu|full|off   RISE preset: cpu = 1000 masks and 50 shuffles (about a minute on 2 cores,
#                         the default), full = the paper's 5000 masks and 1000 shuffles, off = skip
#   --architectures L     the index on every architecture of Fig. 2-S3 that exists here (L = all, or
#                         a list of alexnet,vgg16,resnet50,convnext_tiny,vit_b_16,vggface,hmax), untrained
#                         unless --arch-weights NAME=FILE (repeatable) gives weights; 224-px stimuli;
#                         results in OUT/architectures/ (tools/demo_architectures.sh). EIG: out of scope
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

classic=""
epochs=3 seed=0 out=out/demo threads="$(nproc)" levels="0.1 0.25 0.5" dataset=fashion-mnist data_dir="" alexnet="" device=""
rise=cpu
alexnet_imagenet=""
architectures="" arch_weights=()
nseeds=2 seed_list="" resume="" build_arch=""
while [ $# -gt 0 ]; do
  case "$1" in
    --epochs) epochs="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --asymmetry) levels="$2"; shift 2 ;;
    --dataset) dataset="$2"; shift 2 ;;
    --data-dir) data_dir="$2"; shift 2 ;;
    --alexnet-weights) alexnet="$2"; shift 2 ;;
    --alexnet-imagenet) alexnet_imagenet=1; shift ;;
    --device) device="$2"; shift 2 ;;
    --classic) classic=1; shift ;;
    --rise) rise="$2"; shift 2 ;;
    --architectures) architectures="$2"; shift 2 ;;
    --arch-weights) arch_weights+=(--weights "$2"); shift 2 ;;
    --seeds) nseeds="$2"; shift 2 ;;
    --seed-list) seed_list="$2"; shift 2 ;;
    --resume) resume=1; shift ;;
    --build-arch) build_arch="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set /{/^#/p}' "$0"; exit 0 ;;
    *) echo "demo: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case "$dataset" in
  fashion-mnist) size=28; recipe=() ;;
  cifar10|svhn) size=32; recipe=(--recipe "$dataset")
    [ -n "$data_dir" ] || { echo "demo: --dataset $dataset needs --data-dir DIR with its files" >&2; exit 2; } ;;
  *) echo "demo: --dataset must be fashion-mnist, cifar10 or svhn, got '$dataset'" >&2; exit 2 ;;
esac
case "$rise" in cpu|full|off) ;; *) echo "demo: --rise must be cpu, full or off, got '$rise'" >&2; exit 2 ;; esac
[ -z "$alexnet" ] || [ -f "$alexnet" ] || { echo "demo: --alexnet-weights: no file '$alexnet'" >&2; exit 2; }
# Training seeds: checked here, before anything is installed or built, so a typo costs nothing.
[[ "$seed" =~ ^[0-9]+$ ]] || { echo "demo: --seed must be a whole number >= 0, got '$seed'" >&2; exit 2; }
if [ -n "$seed_list" ]; then
  seeds=()
  IFS=',' read -r -a items <<< "${seed_list// /,}"
  for s in "${items[@]}"; do
    [ -z "$s" ] && continue
    [[ "$s" =~ ^[0-9]+$ ]] || { echo "demo: --seed-list: '$s' is not a whole number >= 0 (list '$seed_list')" >&2; exit 2; }
    s=$((10#$s))
    for t in "${seeds[@]}"; do
      [ "$t" != "$s" ] || { echo "demo: --seed-list: seed $s appears twice in '$seed_list' (each seed trains one net per variant)" >&2; exit 2; }
    done
    seeds+=("$s")
  done
  [ ${#seeds[@]} -ge 1 ] || { echo "demo: --seed-list: no seed in '$seed_list'" >&2; exit 2; }
  seed=${seeds[0]}  # the stimuli, RISE and the classic models use the first seed
else
  [[ "$nseeds" =~ ^[0-9]+$ ]] && [ "$nseeds" -ge 1 ] ||
    { echo "demo: --seeds must be a whole number >= 1 (training seeds per variant), got '$nseeds'" >&2; exit 2; }
  seeds=()
  for ((k = 0; k < nseeds; k++)); do seeds+=($((seed + k))); done
fi
seeds_csv=$(IFS=,; echo "${seeds[*]}")
# The first seed's runs keep the single-seed layout (OUT/train, OUT/nets); seed S's go to OUT/seeds/S.
seed_root() { if [ "$1" = "${seeds[0]}" ]; then echo "$out"; else echo "$out/seeds/$1"; fi; }
if [ -n "$resume" ] && [ -f "$out/seeds.json" ]; then
  before=$(tr -d ' \n' < "$out/seeds.json" | sed -n 's/.*"seeds":\[\([0-9,]*\)\].*/\1/p')
  [ "$before" = "$seeds_csv" ] || { echo "demo: --resume: $out/seeds.json lists training seeds [${before:-?}]," \
    "this run asks for [$seeds_csv]; resume with the same seeds or use another --out" >&2; exit 2; }
fi
if [ -n "$build_arch" ]; then
  [[ "$build_arch" =~ ^[a-z0-9_-]+$ ]] || { echo "demo: --build-arch: '$build_arch' is not a -march value" >&2; exit 2; }
fi

now() { date +%s%N; }  # nanoseconds
secs() { local d=$((($2 - $1) / 100000000)); printf '%d.%d' $((d / 10)) $((d % 10)); }  # tenths of a second
t_start=$(now)
step() { printf '\n== %s ==\n' "$*"; }

step "set-up (tools/setup.sh)"
bash tools/setup.sh

# The GPU is used when one answers; CUDA is only compiled then (it costs minutes on 2 cores).
if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then export PATH="$PATH:/usr/local/cuda/bin"; fi
if [ -z "$device" ]; then
  device=cpu
  if command -v nvcc >/dev/null && command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then device=cuda; fi
fi
if [ "$device" = cuda ]; then cuda=ON build=build; else cuda=OFF build=build-cpu; fi
arch_args=()
if [ -n "$build_arch" ]; then build="$build-$build_arch"; arch_args=(-DMIRRORLAB_ARCH="$build_arch"); fi

step "build ($build, CUDA $cuda${build_arch:+, -march=$build_arch})"
t0=$(now)
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMIRRORLAB_CUDA="$cuda" "${arch_args[@]}" >/dev/null
cmake --build "$build" -j "$(nproc)" --target train render_stimuli mirror_symmetry equivariance extract_activations importance_maps
t_build=$(secs "$t0" "$(now)")
bin="$root/$build"
py="${MIRRORLAB_PYTHON:-/usr/bin/python3}"
export OMP_NUM_THREADS="$threads"
mkdir -p "$out"
printf '{"seeds": [%s]}\n' "$seeds_csv" > "$out/seeds.json.tmp" && mv "$out/seeds.json.tmp" "$out/seeds.json"
# A fresh run (no --resume) drops the seed folders an earlier run with another seed set left here,
# so the report never mixes them in (it refuses seed folders demo.json does not list).
if [ -z "$resume" ] && [ -d "$out/seeds" ]; then
  for d in "$out"/seeds/*/; do
    [ -d "$d" ] || continue
    s=$(basename "$d")
    case ",${seeds_csv#*,}," in *",$s,"*) [ ${#seeds[@]} -gt 1 ] && continue ;; esac
    echo "demo: removing $d (left by an earlier run; this run trains seeds $seeds_csv, the first at the top level)"; rm -rf "$d"
  done
fi
# done FILE: with --resume, an output that exists is not computed again.
done_() { [ -n "$resume" ] && [ -e "$1" ]; }
# rendered DIR SIZE: with --resume, DIR holds a finished render (manifest.csv is written last) at
# SIZE px with this --seed, so it is not rendered again.
rendered() {
  done_ "$1/manifest.csv" && grep -Eqs "\"size\": $2([^0-9]|\$)" "$1/stimuli.json" &&
    grep -Eqs "\"seed\": $seed([^0-9]|\$)" "$1/stimuli.json"
}

step "render stimuli (${size}x${size}, seed $seed)"
t0=$(now)
rendered "$out/stimuli" "$size" || "$bin/tools/render_stimuli" --out "$out/stimuli" --size "$size" --seed "$seed"
for a in $levels; do
  rendered "$out/stimuli_asym/A_$a" "$size" ||
    "$bin/tools/render_stimuli" --out "$out/stimuli_asym/A_$a" --size "$size" --seed "$seed" --asymmetry "$a"
done
t_render=$(secs "$t0" "$(now)")

declare -A t_train=([none]=0 [sym]=0 [asym]=0)
for S in "${seeds[@]}"; do
for variant in none sym asym; do
  run="$(seed_root "$S")/train/$variant"
  if done_ "$run/final.json"; then
    grep -q "\"seed\": $S,\?\$" "$run/final.json" ||
      { echo "demo: --resume: $run/final.json was not trained with seed $S" >&2; exit 2; }
    echo "demo: --resume: $run is finished"; continue
  fi
  step "train vgg_small on $dataset, variant $variant, seed $S ($epochs epochs)"
  t0=$(now)
  data_args=(--dataset "$dataset")
  [ -n "$data_dir" ] && data_args+=(--data-dir "$data_dir")
  if [ "$dataset" = fashion-mnist ]; then opt=(--optimizer adam --lr 1e-3); else opt=("${recipe[@]}"); fi
  again=()
  [ -n "$resume" ] && [ -f "$run/checkpoint.safetensors" ] && again=(--resume)
  "$bin/experiments/train" --model vgg_small "${data_args[@]}" --variant "$variant" --epochs "$epochs" "${opt[@]}" \
    --seed "$S" --threads "$threads" --device "$device" --out "$run" "${again[@]}"
  t=$(secs "$t0" "$(now)")
  t_train[$variant]=$(awk "BEGIN{print ${t_train[$variant]} + $t}")
done
done

step "analyses: mirror-symmetric viewpoint tuning, invariance and equivariance"
t0=$(now)
channels=$([ "$dataset" = fashion-mnist ] && echo 1 || echo 3)
for S in "${seeds[@]}"; do
r="$(seed_root "$S")"
for net in untrained none sym asym; do
  if [ "$net" = untrained ]; then
    # Same architecture and input normalisation as the trained nets, N(0, 1/fan_in) weights.
    netargs=(--model vgg_small --untrained --in-channels "$channels" --image-size "$size" --num-classes 10
             --normalization "$r/train/none/final.json")
  else
    netargs=(--weights "$r/train/$net/final.safetensors")
  fi
  common=("${netargs[@]}" --seed "$S" --device "$device" --threads "$threads" --label "$net" --quiet)
  done_ "$r/nets/$net/msvt/msvt.csv" ||
    "$bin/experiments/mirror_symmetry" "${common[@]}" --stimuli "$out/stimuli/manifest.csv" --out "$r/nets/$net/msvt"
  for a in $levels; do
    done_ "$r/nets/$net/asymmetry/A_$a/msvt.csv" ||
      "$bin/experiments/mirror_symmetry" "${common[@]}" --no-plot --stimuli "$out/stimuli_asym/A_$a/manifest.csv" \
        --out "$r/nets/$net/asymmetry/A_$a"
  done
  done_ "$r/nets/$net/equivariance/equivariance.csv" ||
    "$bin/experiments/equivariance" "${common[@]}" --stimuli "$out/stimuli/manifest.csv" --noise 500 \
      --out "$r/nets/$net/equivariance"
done
done
t_analysis=$(secs "$t0" "$(now)")

t_rise=0
if [ "$rise" != off ] && ! done_ "$out/nets/sym/rise/summary_5c.csv"; then
  step "RISE importance maps and the Figure 5 controls (sym net, fc1, preset $rise)"
  t0=$(now)
  "$bin/experiments/importance_maps" --weights "$out/train/sym/final.safetensors" --layer fc1 --preset "$rise" \
    --stimuli "$out/stimuli/manifest.csv" --mask-seed "$seed" --device "$device" --threads "$threads" --quiet \
    --out "$out/nets/sym/rise"
  t_rise=$(secs "$t0" "$(now)")
fi

if [ -n "$alexnet" ]; then
  step "AlexNet (trained weights $alexnet, and untrained) on 224-px stimuli"
  "$bin/tools/render_stimuli" --out "$out/stimuli_224" --size 224 --seed "$seed"
  for net in trained untrained; do
    if [ "$net" = trained ]; then netargs=(--model alexnet --weights "$alexnet"); else netargs=(--model alexnet --untrained); fi
    common=("${netargs[@]}" --seed "$seed" --device "$device" --threads "$threads" --label "alexnet_$net" --quiet)
    "$bin/experiments/mirror_symmetry" "${common[@]}" --stimuli "$out/stimuli_224/manifest.csv" --out "$out/alexnet/$net/msvt"
    "$bin/experiments/equivariance" "${common[@]}" --stimuli "$out/stimuli_224/manifest.csv" --noise 500 \
      --out "$out/alexnet/$net/equivariance"
  done
fi

# The trained-AlexNet claims (issue 19): its own script, so this block merges around the others.
if [ -n "$alexnet_imagenet" ]; then
  step "ImageNet-trained AlexNet: Figs. 2C, 2-S2, 5-S4 on 224-px stimuli (--alexnet-imagenet)"
  cmake --build "$build" -j "$(nproc)" --target msvt_rank_sum mirror_units >/dev/null
  ai_args=()
  [ -z "$alexnet" ] || ai_args=(--weights "$alexnet")
  [ -f "$out/stimuli_224/manifest.csv" ] || "$bin/tools/render_stimuli" --out "$out/stimuli_224" --size 224 --seed "$seed" --quiet
  bash tools/alexnet_imagenet.sh --bin "$bin" --out "$out/alexnet_imagenet" --stimuli "$out/stimuli_224/manifest.csv" \
    --seed "$seed" --threads "$threads" --device "$device" "${ai_args[@]}"
fi

t_classic=0
if [ -n "$classic" ]; then
  step "HMAX on 227-px stimuli and HOG on 224-px stimuli (--classic)"
  t0=$(now)
  rendered "$out/stimuli_227" 227 || "$bin/tools/render_stimuli" --out "$out/stimuli_227" --size 227 --seed "$seed"
  [ -f "$out/stimuli_224/manifest.csv" ] || "$bin/tools/render_stimuli" --out "$out/stimuli_224" --size 224 --seed "$seed"
  common=(--seed "$seed" --device "$device" --threads "$threads" --quiet)
  mkdir -p "$out/classic"  # --hmax-save-prototypes writes here before mirror_symmetry makes its --out
  done_ "$out/classic/hmax/msvt/msvt.csv" ||
    "$bin/experiments/mirror_symmetry" --model hmax --hmax-sample "$out/stimuli_227/manifest.csv" \
      --hmax-save-prototypes "$out/classic/hmax_prototypes.safetensors" --layers image,c1,c2 "${common[@]}" \
      --stimuli "$out/stimuli_227/manifest.csv" --out "$out/classic/hmax/msvt"
  done_ "$out/classic/hog/equivariance/equivariance.csv" ||
    "$bin/experiments/equivariance" --model hog --hog-orientations 8 "${common[@]}" \
      --stimuli "$out/stimuli_224/manifest.csv" --noise 100 --out "$out/classic/hog/equivariance"
  t_classic=$(secs "$t0" "$(now)")
fi

# Alignment with simulated face-patch populations (issue 19, Fig. 6): kept in one function so
# the other options' edits of this script merge around it.
alignment_step() {
  step "alignment with simulated face-patch populations (Fig. 6; simulate_population + neural_alignment)"
  local t0 net
  t0=$(now)
  cmake --build "$build" -j "$(nproc)" --target simulate_population neural_alignment >/dev/null
  # The FIV-like set from the rendered faces: 25 identities x 5 yaws; three areas with a known mix.
  "$bin/experiments/simulate_population" --stimuli "$out/stimuli/manifest.csv" --category face \
    --views -90,-45,0,45,90 --seed "$seed" --out "$out/alignment/neural"
  local dirs=()
  for net in untrained none sym asym; do
    if [ "$net" = untrained ]; then
      netargs=(--model vgg_small --untrained --in-channels "$channels" --image-size "$size" --num-classes 10
               --normalization "$out/train/none/final.json")
    else
      netargs=(--weights "$out/train/$net/final.safetensors")
    fi
    "$bin/experiments/neural_alignment" "${netargs[@]}" --neural "$out/alignment/neural" --preset ci --no-plot \
      --seed "$seed" --device "$device" --threads "$threads" --label "$net" --quiet --out "$out/alignment/$net"
    dirs+=("$out/alignment/$net")
  done
  "$py" tools/plot_alignment.py "${dirs[@]}" --out "$out/alignment" >/dev/null
  t_alignment=$(secs "$t0" "$(now)")
  printf '{"seconds": %s, "preset": "ci", "nets": ["untrained", "none", "sym", "asym"]}\n' "$t_alignment" \
    > "$out/alignment/step.json"
}
t_alignment=0
if done_ "$out/alignment/step.json"; then echo "demo: --resume: $out/alignment is finished"; else alignment_step; fi

# The mirror study's supplementary figures (issue 19), each small: 2-S7 (the index on raw, not
# z-scored, activations of the untrained and sym nets), 2-S8 (Leibo et al.'s PCA templates on
# pixels: 40 rendered faces x 39 yaws, 64 px, centred vs shifted by 4 px) and 5-S2...S4 (face and
# mirror units of the sym net against 3 untrained nets). One function, so it merges cleanly.
supplementary_step() {
  step "supplementary figures: raw-activation index (2-S7), PCA templates (2-S8), face/mirror units (5-S2...S4)"
  local t0 net sup="$out/supplementary"
  t0=$(now)
  cmake --build "$build" -j "$(nproc)" --target pca_templates mirror_units >/dev/null
  for net in untrained sym; do
    if [ "$net" = untrained ]; then
      netargs=(--model vgg_small --untrained --in-channels "$channels" --image-size "$size" --num-classes 10
               --normalization "$out/train/none/final.json")
    else
      netargs=(--weights "$out/train/$net/final.safetensors")
    fi
    "$bin/experiments/mirror_symmetry" "${netargs[@]}" --no-zscore --seed "$seed" --device "$device" --threads "$threads" \
      --label "$net" --quiet --stimuli "$out/stimuli/manifest.csv" --out "$sup/raw/$net"
  done
  "$bin/tools/render_stimuli" --out "$sup/leibo/train" --size 64 --families face --exemplars 40 --seed $((seed + 1)) \
    --views "$(seq -95 5 95 | paste -sd, -)" --quiet
  "$bin/tools/render_stimuli" --out "$sup/leibo/test" --size 64 --families face --seed "$seed" --quiet
  "$bin/experiments/pca_templates" --train "$sup/leibo/train/manifest.csv" --stimuli "$sup/leibo/test/manifest.csv" \
    --image-size 64 --shift 4,4 --features pixel --quiet --out "$sup/leibo"
  "$bin/experiments/mirror_units" --weights "$out/train/sym/final.safetensors" --label sym --untrained-nets 3 \
    --layers conv2_2,fc1,fc2 --stimuli "$out/stimuli/manifest.csv" --seed "$seed" --device "$device" \
    --threads "$threads" --quiet --out "$sup/units"
  printf '{"seconds": %s}\n' "$(secs "$t0" "$(now)")" > "$sup/step.json"
}
if done_ "$out/supplementary/step.json"; then echo "demo: --resume: $out/supplementary is finished"; else supplementary_step; fi
if [ -n "$architectures" ]; then
  step "every architecture of Fig. 2-S3 that exists here (--architectures $architectures)"
  bash tools/demo_architectures.sh --bin "$bin" --out "$out" --list "$architectures" "${arch_weights[@]}" \
    --seed "$seed" --device "$device" --threads "$threads"
fi

t_total=$(secs "$t_start" "$(now)")
levels_json=$(printf '%s\n' 0 $levels | paste -sd, -)
cat > "$out/demo.json.tmp" <<JSON
{"seed": $seed, "seeds": [$seeds_csv], "epochs": $epochs, "image_size": $size, "dataset": "$dataset",
 "revision": "$(git describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)",
 "date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
 "machine": "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//;s/"//g'), $(nproc) cores",
 "threads": $threads, "device": "$device", "asymmetry_levels": [$levels_json],
 "command": "bash tools/demo.sh --epochs $epochs --seed-list $seeds_csv${build_arch:+ --build-arch $build_arch}${classic:+ --classic}",
 "build": "$build",
 "timings_s": {"build": $t_build, "render": $t_render, "train_none": ${t_train[none]}, "train_sym": ${t_train[sym]},
               "train_asym": ${t_train[asym]}, "analysis": $t_analysis, "rise": $t_rise, "classic": $t_classic,
               "total": $t_total}}
JSON
mv "$out/demo.json.tmp" "$out/demo.json"

step "report"
"$py" tools/demo_report.py "$out"
echo "demo: done in ${t_total} s -> $out/report.html"
