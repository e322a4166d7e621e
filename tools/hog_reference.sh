#!/usr/bin/env bash
# tools/hog_reference.sh — models/hog.h against its outside references (issue 17):
#   UoCTTI vs VLFeat's vl_hog (Debian libvlfeat-dev, linked by tools/hog_reference.cpp), and
#   Dalal–Triggs vs scikit-image's hog (Debian python3-skimage; tools/hog_skimage_compare.py).
# Installs the two Debian packages if missing (root, as tools/setup.sh), builds the engine's
# libraries in BUILD (default build-cpu) and the comparison program beside them, and prints the
# agreement. Not part of the test suite: the engine never needs VLFeat or scikit-image.
# Usage: tools/hog_reference.sh [--build DIR] [--out DIR] [image.png ...]
set -euo pipefail
cd "$(dirname "$0")/.."
build=build-cpu out=out/hog_reference
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) break ;;
  esac
done
need=()
[ -f /usr/include/vl/hog.h ] || need+=(libvlfeat-dev)
/usr/bin/python3 -c 'import skimage, numpy' 2>/dev/null || need+=(python3-skimage python3-numpy)
if [ ${#need[@]} -gt 0 ]; then
  echo "hog_reference: installing ${need[*]}"
  apt-get install -y "${need[@]}" >/dev/null
fi
[ -f "$build/build.ninja" ] || cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMIRRORLAB_CUDA=OFF
cmake --build "$build" -j2 --target mirrorlab_models
arch=$(grep -m1 '^MIRRORLAB_ARCH:' "$build/CMakeCache.txt" | cut -d= -f2)
g++ -std=c++20 -O2 -march="${arch:-native}" -fopenmp -I. tools/hog_reference.cpp \
  "$build/models/libmirrorlab_models.a" "$build/libmirrorlab_engine.a" "$build/libmirrorlab_kernels.a" \
  -lvl -o "$build/hog_reference"
mkdir -p "$out"
"$build/hog_reference" "$out" "$@"
/usr/bin/python3 tools/hog_skimage_compare.py "$out"
