#!/usr/bin/env bash
# tools/ci/fuzz.sh — the fuzz stage of CI: builds every libFuzzer target of tests/fuzz with
# clang (-fsanitize=fuzzer,address,undefined), writes the seed corpora with the project's own
# writers, and runs each target for a bounded time. A crash, a sanitizer report, a leak, a
# timeout or an out-of-memory fails the stage, and the input that caused it is copied into
# tests/fuzz/regressions/<target>/, which the regular suite then replays
# (tests/fuzz/test_fuzz_regressions.cpp): fix the parser, keep the file, commit both.
#   bash tools/ci/fuzz.sh                    # every target, FUZZ_SECONDS (20) each
#   FUZZ_SECONDS=600 bash tools/ci/fuzz.sh npy safetensors   # longer, some targets
# The corpus grows in build-fuzz/corpus/<target> across runs.
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds="${FUZZ_SECONDS:-20}"
build="${FUZZ_BUILD:-build-fuzz}"
jobs="${JOBS:-$(nproc)}"
all=(npy safetensors idx cifar10 stimulus_manifest render_manifest csv obj net_metadata)
targets=("$@")
((${#targets[@]})) || targets=("${all[@]}")

cxx=""
for c in clang++-14 clang++; do command -v "$c" >/dev/null && { cxx="$c"; break; }; done
[ -n "$cxx" ] || { echo "fuzz: no clang++ (Debian: apt-get install clang libclang-rt-14-dev)"; exit 1; }
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)

start=$(date +%s)
cmake -S tests/fuzz -B "$build" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" "${launcher[@]}" >/dev/null
cmake --build "$build" -j "$jobs" --target fuzz_seeds "${targets[@]/#/fuzz_}"
echo "fuzz: built in $(($(date +%s) - start)) s"

# The file-based targets write their input to a scratch folder under TMPDIR: in memory
# (/dev/shm) where there is one, which runs them ~30x faster than a disk's overlay file system.
scratch="$PWD/$build/tmp"
[ -d /dev/shm ] && [ -w /dev/shm ] && scratch="/dev/shm/mirrorlab-fuzz-$$"
export TMPDIR="$scratch"
trap 'rm -rf "$scratch"' EXIT
rm -rf "$build/seeds"
mkdir -p "$TMPDIR"
"$build/fuzz_seeds" "$build/seeds"

failed=()
for t in "${targets[@]}"; do
  corpus="$build/corpus/$t" artifacts="$build/artifacts/$t"
  mkdir -p "$corpus" "$artifacts"
  rm -f "$artifacts"/*
  dirs=("$corpus" "$build/seeds/$t")
  [ -d "tests/fuzz/regressions/$t" ] && dirs+=("tests/fuzz/regressions/$t")
  # CIFAR-10 records are 3073 bytes: its inputs need room for a few.
  max_len=4096
  [ "$t" = cifar10 ] && max_len=16384
  # -malloc_limit_mb: one allocation over 512 MiB is a finding (a size field believed before
  # it was checked against the bytes there); -rss_limit_mb bounds the whole process.
  if "$build/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 \
      -max_len="$max_len" -artifact_prefix="$artifacts/" -print_final_stats=1 "${dirs[@]}" \
      >"$build/fuzz_$t.log" 2>&1; then
    echo "fuzz: $t: $(grep -E '^stat::number_of_executed_units' "$build/fuzz_$t.log" | awk '{print $2}') runs in ${seconds} s, no finding"
  else
    echo "fuzz: $t: FINDING (log: $build/fuzz_$t.log)"
    grep -E 'ERROR|==[0-9]+==|terminate|what\(\)' "$build/fuzz_$t.log" | head -20 || true
    mkdir -p "tests/fuzz/regressions/$t"
    for f in "$artifacts"/*; do
      [ -f "$f" ] && cp "$f" "tests/fuzz/regressions/$t/" && echo "fuzz: saved tests/fuzz/regressions/$t/$(basename "$f")"
    done
    failed+=("$t")
  fi
done
echo "fuzz: ${#targets[@]} targets in $(($(date +%s) - start)) s"
if ((${#failed[@]})); then
  echo "fuzz: findings in: ${failed[*]} (inputs saved under tests/fuzz/regressions/)"
  exit 1
fi
