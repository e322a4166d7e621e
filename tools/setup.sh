#!/usr/bin/env bash
# tools/setup.sh — installs the Debian 12 packages mirrorlab needs, only those missing.
# Run as root, or as a user with sudo. The CUDA toolkit (nvcc 13, cuBLAS, cuDNN 9) is not a
# Debian package: where it is installed (/usr/local/cuda) the CUDA backend is built too.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config  # toolchain
  libeigen3-dev          # CPU linear algebra (GEMM inside the CPU kernels)
  doctest-dev            # tests
  libbenchmark-dev       # bench/
  libstb-dev             # PNG/JPEG images
  zlib1g-dev             # gzip'd IDX datasets
  nlohmann-json3-dev     # safetensors headers, JSON outputs
  libcli11-dev           # command lines of the programs
  libmatio-dev           # SVHN .mat files; vim-1's v7.3 (HDF5) .mat too: Debian's libmatio is built with HDF5
  libtinyobjloader-dev   # OBJ meshes for the stimulus renderer
  python3 python3-numpy python3-matplotlib  # figures and reports (tools/*.py)
  dataset-fashion-mnist  # the demo study's training data
  clang libclang-rt-14-dev  # libFuzzer + sanitizer runtimes for the fuzz targets (tools/ci/fuzz.sh)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all ${#packages[@]} Debian packages present"
fi
