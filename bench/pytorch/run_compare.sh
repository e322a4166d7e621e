#!/usr/bin/env bash
# bench/pytorch/run_compare.sh — CPU training throughput of vgg_small, ours against PyTorch, in
# one run on one machine (issue 5, "Figures to reach"; PEERS.md): batch 256, 28x28x1 and 32x32x3,
# the same architecture, step and thread count on both sides; and (issue 13) the inference of
# AlexNet and VGG16 at 224x224x3, batch 16 and 4 (bench/cpu/bench_forward.cpp, forward.py).
#
#   bench/pytorch/run_compare.sh [--runs K] [--threads N] [--out DIR] [--only train|forward]
#                                [--torch-isa avx2]
#
# The ISA measured is printed and kept in DIR/machine.txt: the CPU's avx512*/avx2/fma flags, the
# -march our benchmark was built with (MIRRORLAB_ARCH from its CMakeCache.txt, and the "isa" the
# binary reports), and ATen's run-time choice (torch.backends.cpu.get_cpu_capability(), per run in
# the JSON). PyTorch picks AVX-512 kernels on an AVX-512 machine; to set an AVX2 build (BUILD_DIR or
# BENCH_CPU from -DMIRRORLAB_ARCH=x86-64-v3) beside PyTorch's AVX2 kernels, pass --torch-isa avx2:
# the PyTorch processes then run with ATEN_CPU_CAPABILITY=avx2 (ATen's own kernels),
# ONEDNN_MAX_CPU_ISA=AVX2 (oneDNN, which runs its convolutions and has its own dispatch) and
# MKL_ENABLE_INSTRUCTIONS=AVX2 (MKL's GEMMs behind nn.Linear); machine.txt records them, and the
# table's title says which capability the PyTorch runs reported.
#
# 1. Installs PyPI's torch (pinned below) into a virtual environment without the GPU wheels it
#    normally pulls in (PEERS.md), unless that environment already has it; prints its version.
# 2. Builds bench_cpu (bench/cpu/bench_train_step.cpp is in it) in BUILD_DIR if needed.
# 3. For each case (a training shape, or a net and batch), K times (default 3), alternately: ours
#    (bench_cpu, BM_vgg_small_train_step or BM_forward,
#    median of 17 steps after 3 warm-up) then PyTorch's (train_step.py, the same statistic), each
#    its own process under /usr/bin/time -v for the peak resident set size. Alternating, rather
#    than all of ours then all of theirs, spreads the other users' load over both sides.
# 4. The same with Debian's python3-torch, when /usr/bin/python3 can import torch (a second
#    reference, never the bar; skipped with a message when it is not installed).
# 5. Prints a Markdown table (also DIR/summary.md): per shape the median images/s over the K
#    runs of each (min–max in brackets), the ratio ours/PyTorch of those medians, and the
#    largest peak RSS seen for each side. Raw outputs stay in DIR.
#
# Threads: OMP_NUM_THREADS=N for both processes, and torch.set_num_threads(N). Default N = 2.
# Environment: BUILD_DIR (default <repo>/build-bench2), TORCH_VENV (default
# $HOME/.cache/mirrorlab-torch-venv), PYTHON (the interpreter the venv is made from, default
# python3; PyPI's torch 2.15 has wheels for CPython 3.10-3.14), TORCH_WHEELS (a folder to download
# the ~540 MB wheel into; default a temporary folder under the venv, removed after the install),
# BENCH_CPU (use this bench_cpu binary instead of building one).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$ROOT/bench/pytorch"
BUILD=${BUILD_DIR:-$ROOT/build-bench2}
RUNS=3
THREADS=2
OUT=""
ONLY=""
TORCH_ISA=""
FORWARD_NETS="alexnet vgg16"
FORWARD_BATCHES="16 4"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    --torch-isa) TORCH_ISA=$2; shift 2 ;;
    --forward-nets) FORWARD_NETS=${2//,/ }; shift 2 ;;  # e.g. resnet50,vit_b_16 (issue 22; needs torchvision)
    --forward-batches) FORWARD_BATCHES=${2//,/ }; shift 2 ;;
    -h|--help) sed -n '2,39p' "$0"; exit 0 ;;
    *) echo "run_compare.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "run_compare.sh: --runs wants a positive integer, got '$RUNS'" >&2; exit 2; }
[[ "$THREADS" =~ ^[1-9][0-9]*$ ]] || { echo "run_compare.sh: --threads wants a positive integer, got '$THREADS'" >&2; exit 2; }
[[ -x /usr/bin/time ]] || { echo "run_compare.sh: /usr/bin/time is missing (Debian package 'time'); it measures peak RSS" >&2; exit 2; }
OUT=${OUT:-$BUILD/compare-results/$(date -u +%Y%m%d-%H%M%S)}
[[ -z "$ONLY" || "$ONLY" == train || "$ONLY" == forward ]] || { echo "run_compare.sh: --only wants train or forward, got '$ONLY'" >&2; exit 2; }
if [[ -n "$TORCH_ISA" ]]; then
  [[ "$TORCH_ISA" == avx2 ]] || { echo "run_compare.sh: --torch-isa takes avx2, got '$TORCH_ISA'" >&2; exit 2; }
  export ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2
fi
# Cases: train/<shape> (vgg_small training step) and forward/<net>/<batch> (inference at 224).
CASES=()
[[ "$ONLY" == forward ]] || CASES+=(train/28x28x1 train/32x32x3)
if [[ "$ONLY" != train ]]; then
  for n in $FORWARD_NETS; do for b in $FORWARD_BATCHES; do CASES+=("forward/$n/$b"); done; done
fi

# ---- 1. PyTorch from PyPI, pinned ----------------------------------------------------------------
source "$(dirname "${BASH_SOURCE[0]}")/torch_venv.sh"
ensure_torch_venv run_compare.sh
echo "PyPI torch: $TORCH_PYPI ($VENV)"

DEBIAN_TORCH=$(/usr/bin/python3 -c 'import torch; print(torch.__version__)' 2>/dev/null || true)
if [[ -z "$DEBIAN_TORCH" ]]; then
  echo "Debian torch: not installed (apt-get install python3-torch), skipped"
else
  echo "Debian torch: $DEBIAN_TORCH (/usr/bin/python3)"
fi

# ---- 2. our benchmark ----------------------------------------------------------------------------
if [[ -n "${BENCH_CPU:-}" ]]; then
  BENCH=$BENCH_CPU
else
  if [[ ! -f "$BUILD/CMakeCache.txt" ]]; then
    GEN=(); command -v ninja >/dev/null && GEN=(-G Ninja)
    cmake -S "$ROOT" -B "$BUILD" "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release \
      -DMIRRORLAB_CUDA=OFF -DMIRRORLAB_BENCH=ON -DMIRRORLAB_TESTS=OFF
  fi
  # -j2: these machines have 2 shared cores.
  if ! cmake --build "$BUILD" -j2 --target bench_cpu; then
    echo "run_compare.sh: building bench_cpu failed. If the link misses ml::models::make_model, bench/CMakeLists.txt" \
         "needs: target_link_libraries(bench_cpu PRIVATE mirrorlab_models)" >&2
    exit 1
  fi
  BENCH=$BUILD/bench/bench_cpu
fi
[[ -x "$BENCH" ]] || { echo "run_compare.sh: no benchmark binary at $BENCH" >&2; exit 1; }

# ---- what ran where ------------------------------------------------------------------------------
mkdir -p "$OUT"
BENCH_CACHE=$(dirname "$BENCH")/../CMakeCache.txt
BUILD_ARCH=$( [[ -f "$BENCH_CACHE" ]] && sed -n 's/^MIRRORLAB_ARCH:[A-Z]*=//p' "$BENCH_CACHE" || echo "unknown (no CMakeCache.txt beside $BENCH)")
{
  echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cpus"
  echo "cpu flags: $(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx512|avx2$|fma$)' | tr '\n' ' ')"
  echo "ours built with: -march=$BUILD_ARCH (the vector ISA the binary reports is in the table's title)"
  echo "PyTorch: ATEN_CPU_CAPABILITY=${ATEN_CPU_CAPABILITY:-unset} ONEDNN_MAX_CPU_ISA=${ONEDNN_MAX_CPU_ISA:-unset}" \
       "MKL_ENABLE_INSTRUCTIONS=${MKL_ENABLE_INSTRUCTIONS:-unset}, run-time capability" \
       "$("$VENV/bin/python" -c 'import torch; print(torch.backends.cpu.get_cpu_capability())' 2>/dev/null || echo '?')"
  echo "ours: $BENCH${BENCH_CPU:+ (from BENCH_CPU, built from whatever source it was built from)};" \
       "repository at $(git -C "$ROOT" describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)"
  echo "PyPI torch: $TORCH_PYPI"
  echo "Debian torch: ${DEBIAN_TORCH:-not installed}"
  echo "threads: OMP_NUM_THREADS=$THREADS, torch.set_num_threads($THREADS)"
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/machine.txt"

# ---- 3./4. alternate the sides -------------------------------------------------------------------
export OMP_NUM_THREADS=$THREADS
SIDES=(ours pypi)
[[ -n "$DEBIAN_TORCH" ]] && SIDES+=(debian)
run_side() {  # side case dir
  local side=$1 case=$2 dir=$3 py=() filter
  mkdir -p "$dir"
  cut -d' ' -f1 /proc/loadavg > "$dir/load_before.txt"
  if [[ "$case" == train/* ]]; then
    filter="^BM_vgg_small_train_step/${case#train/}"
    py=("$HERE/train_step.py" --shape "${case#train/}" --threads "$THREADS")
  else
    local nb=${case#forward/}
    filter="^BM_forward/$nb/"  # then /iterations:1/repeats:7/real_time
    py=("$HERE/forward.py" --net "${nb%/*}" --batch "${nb#*/}" --threads "$THREADS")
  fi
  case "$side" in
    ours)
      /usr/bin/time -v -o "$dir/time.txt" "$BENCH" --benchmark_filter="$filter" \
        --benchmark_out="$dir/result.json" --benchmark_out_format=json > "$dir/stdout.txt" ;;
    pypi)
      /usr/bin/time -v -o "$dir/time.txt" "$VENV/bin/python" "${py[@]}" > "$dir/result.json" ;;
    debian)
      /usr/bin/time -v -o "$dir/time.txt" /usr/bin/python3 "${py[@]}" > "$dir/result.json" ;;
  esac
  cut -d' ' -f1 /proc/loadavg > "$dir/load_after.txt"
}
for case in "${CASES[@]}"; do
  for ((i = 1; i <= RUNS; ++i)); do
    for side in "${SIDES[@]}"; do
      echo "== $case run $i of $RUNS: $side (load $(cut -d' ' -f1 /proc/loadavg))"
      run_side "$side" "$case" "$OUT/${case//\//_}/$side/run$i"
    done
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/machine.txt"

# ---- 5. the table (standard library only) --------------------------------------------------------
python3 - "$OUT" "$RUNS" "$THREADS" "${SIDES[@]}" <<'PY'
import json, re, statistics, sys
from pathlib import Path

out, runs, threads, sides = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4:]
names = {"ours": "ours", "pypi": "PyTorch (PyPI)", "debian": "PyTorch (Debian)"}

capability = {}  # side -> set of ATen capabilities its runs reported (PyTorch sides only)

def images_per_s(side, d):
    r = json.loads((d / "result.json").read_text())
    if side == "ours":
        med = [b for b in r["benchmarks"] if b.get("aggregate_name") == "median"]
        if not med:
            raise SystemExit(f"{d}: no median in our benchmark's output (did it fail? see stdout.txt)")
        capability.setdefault(side, set()).add(r["context"].get("isa", "?"))
        return med[0]["images/s"]
    capability.setdefault(side, set()).add(r.get("cpu_capability", "?"))
    return r["images_per_s"]

def peak_rss_mib(d):
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", (d / "time.txt").read_text())
    return int(m.group(1)) / 1024 if m else float("nan")

def cpu_percent(d):
    """user + system time over wall time, in percent (200 = both of 2 cores busy the whole run)"""
    m = re.search(r"Percent of CPU this job got: (\d+)%", (d / "time.txt").read_text())
    return m.group(1) if m else "?"

def fmt(v):
    # Two decimals below 10 images/s (ResNet-50 and ViT-B/16 on 2 cores run at 1-3 images/s).
    d = 2 if max(v) < 10 else 0
    m = statistics.median(v)
    return f"{m:.{d}f}" if len(v) == 1 else f"{m:.{d}f} ({min(v):.{d}f}–{max(v):.{d}f})"

order = ["train_28x28x1", "train_32x32x3", "forward_alexnet_16", "forward_alexnet_4", "forward_vgg16_16",
         "forward_vgg16_4", "forward_resnet50_16", "forward_vit_b_16_16"]
shapes = sorted((p.name for p in out.iterdir() if p.is_dir()), key=lambda n: order.index(n) if n in order else 99)
head = "| case |" + "".join(f" {names[s]} images/s |" for s in sides)
head += "".join(f" ours / {names[s]} |" for s in sides[1:])
head += "".join(f" {names[s]} peak RSS MiB |" for s in sides)
lines = [head, "|---|" + "---:|" * (len(sides) * 2 + len(sides) - 1)]
notes = []
for shape in shapes:
    rate, rss, pair = {}, {}, {}
    for s in sides:
        ds = [out / shape / s / f"run{i}" for i in range(1, runs + 1)]
        rate[s] = [images_per_s(s, d) for d in ds]
        rss[s] = max(peak_rss_mib(d) for d in ds)
    row = f"| {shape} |" + "".join(f" {fmt(rate[s])} |" for s in sides)
    for s in sides[1:]:
        # The ratio of the medians; beside it, the range of the run-by-run ratios (run i of ours
        # against run i of theirs, taken one after the other).
        per_run = [a / b for a, b in zip(rate["ours"], rate[s])]
        ratio = statistics.median(rate["ours"]) / statistics.median(rate[s])
        row += f" {ratio:.2f}×" + (f" ({min(per_run):.2f}–{max(per_run):.2f})" if runs > 1 else "") + " |"
    row += "".join(f" {rss[s]:.0f} |" for s in sides)
    lines.append(row)
    for s in sides:
        loads = [(out / shape / s / f"run{i}" / "load_before.txt").read_text().strip() for i in range(1, runs + 1)]
        cpu = [cpu_percent(out / shape / s / f"run{i}") for i in range(1, runs + 1)]
        notes.append(f"- {shape} {names[s]}: images/s per run {', '.join(f'{v:.0f}' for v in rate[s])}; "
                     f"1-minute load average before each run {', '.join(loads)}; CPU % the process got "
                     f"(user+sys over wall, {threads} threads at most {100 * int(threads)} %) {', '.join(cpu)}")

text = "\n".join(
    [f"train_HxWxC: vgg_small training step (zero_grad, forward in train mode, cross-entropy, backward, SGD "
     f"momentum 0.9), batch 256, the median of 17 steps after 3 warm-up steps. forward_NET_BATCH: one "
     f"inference forward at 224x224x3 (eval, no autograd), the median of 7 after 2 warm-up. {threads} threads; "
     f"each side's figure is the median over {runs} runs of that run's median, min–max over the runs in "
     f"brackets. Runs alternate between the sides. Peak RSS: the largest 'Maximum resident set size' "
     f"(/usr/bin/time -v) over the runs, whole process.",
     "Vector ISA each side ran: " + "; ".join(f"{names[s]} {'/'.join(sorted(capability.get(s, {'?'})))}"
                                            for s in sides), ""]
    + lines + [""] + notes + ["", "```", (out / "machine.txt").read_text().rstrip(), "```"]) + "\n"
(out / "summary.md").write_text(text)
print()
print(text)
print(f"(written to {out / 'summary.md'})")
PY
