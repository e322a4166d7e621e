#!/usr/bin/env bash
# bench/pytorch/run_rise_compare.sh — RISE masked forwards per second, ours against PyTorch, side
# by side in one run (issue 18, "Speed"): for each case, alternately (A B C D A B C D ...), each
# its own process under /usr/bin/time -v:
#   ours-batched   bench_rise --batch B  (engine-op masks on the net's device, batched forwards)
#   ours-per-mask  bench_rise --batch 1
#   torch-batched  bench/pytorch/rise.py --mode batched --batch B (the same computation batched)
#   torch-per-mask bench/pytorch/rise.py --mode per-mask (the released code's one image at a time)
# on the same masks and weights (bench_rise --dump; rise.py checks its map against ours), with
# OMP_NUM_THREADS = torch.set_num_threads = --threads (default 2). Cases: vgg_small at 28x28x1
# to fc1 (2,000 masks, B 250; the per-mask sides time the first 200) and AlexNet at 224x224x3 to
# fc6 (100 masks, B 50; per mask the first 20). Each process: one warm-up, one timed pass.
#
#   bench/pytorch/run_rise_compare.sh [--runs K] [--threads N] [--out DIR] [--only vgg_small|alexnet]
#
# Installs PyPI torch 2.15.0 into TORCH_VENV (default $HOME/.cache/mirrorlab-torch-venv) with the
# same pins as bench/pytorch/run_compare.sh unless it is there; builds bench_rise in BUILD_DIR
# (default <repo>/build-bench2) unless BENCH_RISE names a binary. Prints a Markdown table (also
# DIR/summary.md): median masks/s per side over the K runs, the ratios ours/PyTorch, and the
# 1-minute load average before each run.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$ROOT/bench/pytorch"
BUILD=${BUILD_DIR:-$ROOT/build-bench2}
RUNS=2
THREADS=2
OUT=""
ONLY=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "run_rise_compare.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "run_rise_compare.sh: --runs wants a positive integer, got '$RUNS'" >&2; exit 2; }
[[ "$THREADS" =~ ^[1-9][0-9]*$ ]] || { echo "run_rise_compare.sh: --threads wants a positive integer, got '$THREADS'" >&2; exit 2; }
[[ -z "$ONLY" || "$ONLY" == vgg_small || "$ONLY" == alexnet ]] || { echo "run_rise_compare.sh: --only wants vgg_small or alexnet, got '$ONLY'" >&2; exit 2; }
[[ -x /usr/bin/time ]] || { echo "run_rise_compare.sh: /usr/bin/time is missing (Debian package 'time')" >&2; exit 2; }
OUT=${OUT:-$BUILD/rise-compare/$(date -u +%Y%m%d-%H%M%S)}

# ---- PyPI torch, pinned as in run_compare.sh -----------------------------------------------------
source "$(dirname "${BASH_SOURCE[0]}")/torch_venv.sh"
ensure_torch_venv run_rise_compare.sh

# ---- our benchmark -------------------------------------------------------------------------------
if [[ -n "${BENCH_RISE:-}" ]]; then
  BENCH=$BENCH_RISE
else
  if [[ ! -f "$BUILD/CMakeCache.txt" ]]; then
    GEN=(); command -v ninja >/dev/null && GEN=(-G Ninja)
    cmake -S "$ROOT" -B "$BUILD" "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release -DMIRRORLAB_CUDA=OFF -DMIRRORLAB_BENCH=ON \
      -DMIRRORLAB_TESTS=OFF
  fi
  cmake --build "$BUILD" -j2 --target bench_rise
  BENCH=$BUILD/bench/bench_rise
fi
[[ -x "$BENCH" ]] || { echo "run_rise_compare.sh: no benchmark binary at $BENCH" >&2; exit 1; }

mkdir -p "$OUT"
{
  echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cpus"
  echo "ours: $BENCH; repository at $(git -C "$ROOT" describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)"
  echo "PyPI torch: $TORCH_PYPI ($VENV)"
  echo "threads: $THREADS; date: $(date -u +%Y-%m-%dT%H:%M:%SZ); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/machine.txt"

export OMP_NUM_THREADS=$THREADS
CASES=()
[[ "$ONLY" == alexnet ]] || CASES+=(vgg_small)
[[ "$ONLY" == vgg_small ]] || CASES+=(alexnet)
for case in "${CASES[@]}"; do
  if [[ "$case" == vgg_small ]]; then
    NET=(--model vgg_small --in-channels 1 --image-size 28 --layer fc1); MASKS=2000; B=250; ONE=200
  else
    NET=(--model alexnet --layer fc6); MASKS=100; B=50; ONE=20
  fi
  dump="$OUT/$case/dump"
  echo "== $case: masks, weights and our map for the PyTorch side"
  "$BENCH" "${NET[@]}" --masks "$MASKS" --batch "$B" --repeats 1 --threads "$THREADS" --dump "$dump" > /dev/null
  for ((i = 1; i <= RUNS; ++i)); do
    for side in ours-batched torch-batched ours-per-mask torch-per-mask; do
      d="$OUT/$case/$side/run$i"; mkdir -p "$d"
      cut -d' ' -f1 /proc/loadavg > "$d/load_before.txt"
      echo "== $case run $i of $RUNS: $side (load $(cat "$d/load_before.txt"))"
      case "$side" in
        ours-batched) cmd=("$BENCH" "${NET[@]}" --masks "$MASKS" --batch "$B" --threads "$THREADS" --repeats 1) ;;
        ours-per-mask) cmd=("$BENCH" "${NET[@]}" --masks "$ONE" --batch 1 --threads "$THREADS" --repeats 1) ;;
        torch-batched) cmd=("$VENV/bin/python" "$HERE/rise.py" --dump "$dump" --model "$case" --mode batched --batch "$B" --threads "$THREADS" --repeats 1) ;;
        torch-per-mask) cmd=("$VENV/bin/python" "$HERE/rise.py" --dump "$dump" --model "$case" --mode per-mask --limit "$ONE" --threads "$THREADS" --repeats 1) ;;
      esac
      /usr/bin/time -v -o "$d/time.txt" "${cmd[@]}" > "$d/result.json"
      cat "$d/result.json"
    done
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/machine.txt"

python3 - "$OUT" "$RUNS" <<'PY'
import json, re, statistics, sys
from pathlib import Path
out, runs = Path(sys.argv[1]), int(sys.argv[2])
sides = ["ours-batched", "torch-batched", "ours-per-mask", "torch-per-mask"]
lines = ["| case | " + " | ".join(f"{s} masks/s" for s in sides) +
         " | ours-batched / torch-batched | ours-batched / torch-per-mask | ours-per-mask / torch-per-mask | max rel. map diff torch vs ours |",
         "|---|" + "---:|" * 8]
notes = []
for case in [p.name for p in sorted(out.iterdir()) if p.is_dir()]:
    rate, diff = {}, []
    for s in sides:
        rs = [json.loads((out / case / s / f"run{i}" / "result.json").read_text()) for i in range(1, runs + 1)]
        rate[s] = [r["masks_per_s"] for r in rs]
        diff += [r["max_rel_diff_vs_ours"] for r in rs if r.get("max_rel_diff_vs_ours") is not None]
        loads = [(out / case / s / f"run{i}" / "load_before.txt").read_text().strip() for i in range(1, runs + 1)]
        cpu = [re.search(r"Percent of CPU this job got: (\d+)%", (out / case / s / f"run{i}" / "time.txt").read_text()).group(1)
               for i in range(1, runs + 1)]
        notes.append(f"- {case} {s}: masks/s per run {', '.join(f'{v:.1f}' for v in rate[s])}; load before {', '.join(loads)}; CPU % {', '.join(cpu)}")
    med = {s: statistics.median(v) for s, v in rate.items()}
    lines.append(f"| {case} | " + " | ".join(f"{med[s]:.1f}" for s in sides) +
                 f" | {med['ours-batched'] / med['torch-batched']:.2f}× | {med['ours-batched'] / med['torch-per-mask']:.2f}×"
                 f" | {med['ours-per-mask'] / med['torch-per-mask']:.2f}× | {max(diff):.1e} |")
text = "\n".join(lines + [""] + notes + ["", "```", (out / "machine.txt").read_text().rstrip(), "```"]) + "\n"
(out / "summary.md").write_text(text)
print(text)
PY
