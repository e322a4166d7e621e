#!/usr/bin/env bash
# bench/cpu/compare_paths.sh — per layer and pass, the path the CPU convolution dispatch takes
# (kernels/cpu/conv2d_path.h) beside the im2col + Eigen reference, timed in the same bench_cpu run
# (issue 13: every pass must be at least as fast as im2col + Eigen, on AVX-512 and on AVX2).
#
#   bench/cpu/compare_paths.sh BENCH_CPU [OUT.json] [-- extra bench_cpu arguments]
#
# Prints a Markdown table: layer, pass, chosen path, its median ms, im2col + Eigen's median ms and
# im2col / chosen (> 1: the chosen path is faster), in wall time and in CPU time (user + system
# of the process). Layers whose chosen path is im2col + Eigen have no reference row (they are the
# reference). Forwards of AlexNet and VGG16 that the dispatch sends elsewhere also show the direct
# kernel's time, and the Winograd-able ones it sends to the direct kernel Winograd's time
# ("other": the alternative path; other / chosen > 1: the chosen path is faster). Threads: OMP_NUM_THREADS (default nproc). On a shared, oversubscribed machine the
# process gets a fraction of a core and wall time mostly measures the others; with one thread the
# CPU time is the work done and the steadier figure (with more threads it also counts OpenMP's
# spinning at barriers).
set -euo pipefail
BENCH=${1:?"usage: compare_paths.sh BENCH_CPU [OUT.json] [-- bench_cpu arguments]"}
shift
OUT=${1:-$(mktemp --suffix=.json)}
[[ $# -gt 0 ]] && shift
[[ "${1:-}" == "--" ]] && shift
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(nproc)}
"$BENCH" --benchmark_filter='^(conv2d|im2col|direct|winograd)_' --benchmark_out="$OUT" --benchmark_out_format=json \
  --benchmark_format=console "$@" >&2
python3 - "$OUT" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
ctx = r["context"]
med = {}
label = {}
for b in r["benchmarks"]:
    if b.get("aggregate_name") != "median":
        continue
    kind, net, layer = b["run_name"].split("/")[:3]
    side, pass_ = kind.split("_", 1)
    med[(net, layer, pass_, side)] = (b["real_time"], b["cpu_time"])
    if side == "conv2d":
        label[(net, layer, pass_)] = b.get("label", "").split("path=")[-1]
print(f"isa {ctx.get('isa', '?')}, {ctx.get('omp_max_threads', '?')} threads, {ctx.get('date', '')}")
print()
print("| net | layer | pass | chosen path | chosen ms (cpu ms) | im2col+eigen ms (cpu ms) "
      "| im2col / chosen, wall | im2col / chosen, cpu | other path: ms (cpu ms) | other / chosen, cpu |")
print("|---|---|---|---|---:|---:|---:|---:|---:|---:|")
for (net, layer, pass_), path in label.items():
    c = med[(net, layer, pass_, "conv2d")]
    ref = med.get((net, layer, pass_, "im2col"))
    other = "direct" if (net, layer, pass_, "direct") in med else "winograd"
    d = med.get((net, layer, pass_, other))
    dcol = f"{other} {d[0]:.1f} ({d[1]:.1f}) | {d[1] / c[1]:.2f}" if d else "– | "
    if ref:
        print(f"| {net} | {layer} | {pass_} | {path} | {c[0]:.1f} ({c[1]:.1f}) | {ref[0]:.1f} ({ref[1]:.1f}) "
              f"| {ref[0] / c[0]:.2f} | {ref[1] / c[1]:.2f} | {dcol} |")
    else:
        print(f"| {net} | {layer} | {pass_} | {path} | {c[0]:.1f} ({c[1]:.1f}) | – | (is the reference) | | {dcol} |")
PY
