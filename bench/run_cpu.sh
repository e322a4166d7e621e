#!/usr/bin/env bash
# bench/run_cpu.sh — the CPU convolution kernels as a fraction of this machine's FP32 peak,
# both measured in the same run (STYLE.md §4, PEERS.md "the physical limit").
#
#   bench/run_cpu.sh [--runs K] [--out DIR] [-- extra bench_cpu arguments]
#
# bench_cpu holds other benchmarks too (bench/cpu/bench_train_step.cpp, issue 5, which has its
# own driver); without extra arguments only the convolutions run (--benchmark_filter=^conv2d_).
#
# Builds build-bench/ if needed (Release, no CUDA, no tests), then K times (default 1):
#   peak_cpu  --json DIR/runI/peak_cpu.json                      (FP32 FMA peak, 1 and N threads)
#   bench_cpu --benchmark_out=DIR/runI/bench_cpu.json ...        (Google Benchmark, console too)
#   peak_cpu  --json DIR/runI/peak_cpu_after.json                (the peak again, see below)
# and prints a Markdown table (also DIR/summary.md): per layer and pass, the median GFLOP/s and
# the percentage of the N-thread peak measured in the same run; with K > 1, the median over the
# runs and the min–max spread. The machines are shared and noisy: use --runs 2 or more, and
# look at the load averages it records.
#
# Environment: OMP_NUM_THREADS (default: nproc), BUILD_DIR (default: <repo>/build-bench).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build-bench}
RUNS=1
OUT=""
EXTRA=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs) RUNS=${2:?"--runs needs a value"}; shift 2 ;;
    --out) OUT=${2:?"--out needs a value"}; shift 2 ;;
    --) shift; EXTRA=("$@"); break ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "run_cpu.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "run_cpu.sh: --runs wants a positive integer, got '$RUNS'" >&2; exit 2; }
OUT=${OUT:-$BUILD/bench-results/$(date -u +%Y%m%d-%H%M%S)}
[[ ${#EXTRA[@]} -gt 0 ]] || EXTRA=(--benchmark_filter=^conv2d_)
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(nproc)}

# ---- build (configure once; -j2: these machines have 2 shared cores) -------------------------
if [[ ! -f "$BUILD/CMakeCache.txt" ]]; then
  GEN=(); command -v ninja >/dev/null && GEN=(-G Ninja)
  cmake -S "$ROOT" -B "$BUILD" "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DMIRRORLAB_CUDA=OFF -DMIRRORLAB_BENCH=ON -DMIRRORLAB_TESTS=OFF
fi
cmake --build "$BUILD" -j2 --target peak_cpu bench_cpu

# ---- what ran where ---------------------------------------------------------------------------
mkdir -p "$OUT"
CXX_PATH=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$BUILD/CMakeCache.txt")
{
  echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cpus"
  echo "avx512 flags: $(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep '^avx512' | tr '\n' ' ' || true)"
  echo "compiler: $("${CXX_PATH:-c++}" --version | head -1)"
  echo "build: $(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD/CMakeCache.txt"), -march=$(sed -n 's/^MIRRORLAB_ARCH:[A-Z]*=//p' "$BUILD/CMakeCache.txt")"
  echo "OMP_NUM_THREADS=$OMP_NUM_THREADS"
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/machine.txt"

# ---- measure ----------------------------------------------------------------------------------
RUN_DIRS=()
for ((i = 1; i <= RUNS; ++i)); do
  dir="$OUT/run$i"
  mkdir -p "$dir"
  echo "== run $i of $RUNS -> $dir"
  cut -d' ' -f1 /proc/loadavg > "$dir/load_before.txt"
  "$BUILD/bench/peak_cpu" --json "$dir/peak_cpu.json"
  "$BUILD/bench/bench_cpu" --benchmark_format=console \
    --benchmark_out="$dir/bench_cpu.json" --benchmark_out_format=json "${EXTRA[@]}"
  # The peak again after the kernels: other people's jobs come and go, and a peak taken while
  # they ran is too low (kernels would then exceed 100 %). Contention can only lower a measured
  # peak, so the larger of the two medians is the better estimate of the ceiling.
  "$BUILD/bench/peak_cpu" --json "$dir/peak_cpu_after.json"
  cut -d' ' -f1 /proc/loadavg > "$dir/load_after.txt"
  RUN_DIRS+=("$dir")
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/machine.txt"

# ---- join the JSON files into one table (standard library only) ------------------------------
python3 - "$OUT/summary.md" "$OUT/machine.txt" "${RUN_DIRS[@]}" <<'PY'
import json, statistics, sys
from pathlib import Path

summary_path, machine_path, run_dirs = Path(sys.argv[1]), Path(sys.argv[2]), [Path(d) for d in sys.argv[3:]]
PASSES = [("conv2d_forward", "forward"), ("conv2d_backward_data", "backward-data"),
          ("conv2d_backward_weight", "backward-weight")]

def fmt(values, digits=1):
    """median, and the min-max spread when there is more than one run"""
    m = statistics.median(values)
    if len(values) == 1:
        return f"{m:.{digits}f}"
    return f"{m:.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f})"

peaks_all, peaks_one, run_notes = [], [], []
gflops = {}   # (net, layer, pass) -> [GFLOP/s per run]
frac = {}     # (net, layer, pass) -> [% of that run's N-thread peak]
labels, order = {}, []
for d in run_dirs:
    before = json.loads((d / "peak_cpu.json").read_text())
    after = json.loads((d / "peak_cpu_after.json").read_text())
    bench = json.loads((d / "bench_cpu.json").read_text())
    peak = max(before, after, key=lambda p: p["all"]["median_gflops"])
    p_all = peak["all"]["median_gflops"]
    p_one = max(before["single"]["median_gflops"], after["single"]["median_gflops"])
    peaks_all.append(p_all)
    peaks_one.append(p_one)
    load = [(d / f).read_text().strip() for f in ("load_before.txt", "load_after.txt")]
    run_notes.append(f"{d.name}: peak before/after {before['all']['median_gflops']:.1f}/"
                     f"{after['all']['median_gflops']:.1f} GFLOP/s ({peak['all']['threads']} threads), "
                     f"1-minute load average before/after {load[0]}/{load[1]}")
    threads = int(bench["context"].get("omp_max_threads", 0))
    if threads != peak["all"]["threads"]:
        print(f"warning: {d}: bench_cpu ran on {threads} threads, the peak on {peak['all']['threads']}",
              file=sys.stderr)
    for b in bench["benchmarks"]:
        if b.get("run_type") != "aggregate" or b.get("aggregate_name") != "median":
            continue
        if not b["run_name"].startswith("conv2d_"):
            continue  # another family's benchmark (run with extra arguments): not this table's
        kernel, net, layer = b["run_name"].split("/")[:3]
        key = (net, layer, kernel)
        gflops.setdefault(key, []).append(b["GFLOP/s"])
        frac.setdefault(key, []).append(100.0 * b["GFLOP/s"] / p_all)
        labels[(net, layer)] = b.get("label", "")
        if (net, layer) not in order:
            order.append((net, layer))

n = len(run_dirs)
lines = [f"Machine: see below. {n} run(s); each cell is the median of 3 repetitions"
         + (f", then the median over the {n} runs with the min–max across runs in brackets" if n > 1 else "")
         + ". % = GFLOP/s over the N-thread FP32 peak of the same run (the larger of the medians"
         " measured just before and just after the kernels).", ""]
lines += [f"FP32 FMA peak (peak_cpu): {peak['all']['threads']} threads {fmt(peaks_all)} GFLOP/s; "
          f"1 thread {fmt(peaks_one)} GFLOP/s", ""]
lines += [f"- {note}" for note in run_notes] + [""]
head = "| net | layer | shape (N C HxW K RxS stride pad -> PxQ) |"
rule = "|---|---|---|"
for _, title in PASSES:
    head += f" {title} GFLOP/s | % peak |"
    rule += "---:|---:|"
lines += [head, rule]
for net, layer in order:
    row = f"| {net} | {layer} | {labels[(net, layer)]} |"
    for kernel, _ in PASSES:
        key = (net, layer, kernel)
        row += f" {fmt(gflops[key])} | {fmt(frac[key], 0)} |" if key in gflops else " – | – |"
    lines.append(row)
lines += ["", "```", machine_path.read_text().rstrip(), "```"]
text = "\n".join(lines) + "\n"
summary_path.write_text(text)
print()
print(text)
print(f"(written to {summary_path})")
PY
