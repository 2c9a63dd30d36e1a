#!/usr/bin/env bash
# Builds siagen with llama.cpp's CUDA backend (NVIDIA GPUs): target/release/siagen (or under
# $CARGO_TARGET_DIR).
#
# Needs the CUDA toolkit at build time. When nvcc is missing (neither on PATH nor under
# $CUDA_PATH or /usr/local/cuda), it installs the distribution's toolkit: on Debian it adds the
# contrib and non-free components in /etc/apt/sources.list.d/siagen-cuda.sources (the toolkit
# is non-free) and installs nvidia-cuda-toolkit; it says so before doing it.
# CUDA 11 accepts host compilers up to GCC 11 only: with it, g++-11 is installed and used.
#
# The binary links cudart and cuBLAS statically; at run time it needs only the NVIDIA driver
# (libcuda.so.1). Without a GPU or driver it runs on the CPU and says so when it starts.
#
# Environment:
#   CMAKE_CUDA_ARCHITECTURES  GPU architectures to compile for (default: those of the GPUs
#                             visible now, from nvidia-smi; else llama.cpp's portable list,
#                             which takes several times longer to build). H100/H200: 90.
#   CMAKE_CUDA_HOST_COMPILER  host compiler for nvcc (default: chosen from the CUDA version).
# llama.cpp's CMake is configured once per build directory: after changing these, run
# `cargo clean --release -p llama-cpp-sys-2` first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build-deps.sh
if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi

for d in "${CUDA_PATH:-}" /usr/local/cuda; do
  if [ -n "$d" ] && [ -x "$d/bin/nvcc" ] && ! command -v nvcc >/dev/null; then
    export PATH="$d/bin:$PATH" CUDA_PATH="$d"
  fi
done

if ! command -v nvcc >/dev/null; then
  . /etc/os-release
  if [ "${ID:-}" = debian ]; then
    echo "build-cuda: enabling Debian's contrib and non-free components for ${VERSION_CODENAME} (the CUDA toolkit is non-free): /etc/apt/sources.list.d/siagen-cuda.sources"
    $SUDO tee /etc/apt/sources.list.d/siagen-cuda.sources >/dev/null <<EOF
Types: deb
URIs: http://deb.debian.org/debian
Suites: ${VERSION_CODENAME} ${VERSION_CODENAME}-updates
Components: contrib non-free
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  fi
  echo "build-cuda: installing the CUDA toolkit (Debian/Ubuntu package nvidia-cuda-toolkit, about 4 GB)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    nvidia-cuda-toolkit >/dev/null
fi

cuda_version=$(nvcc --version | sed -n 's/.*release \([0-9]*\)\.\([0-9]*\).*/\1.\2/p')
echo "build-cuda: CUDA toolkit ${cuda_version} ($(command -v nvcc))"

if [ -z "${CMAKE_CUDA_HOST_COMPILER:-}" ] && [ "${cuda_version%%.*}" -lt 12 ]; then
  if ! command -v g++-11 >/dev/null; then
    echo "build-cuda: CUDA ${cuda_version} needs GCC 11 or older as host compiler: installing g++-11"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq g++-11 >/dev/null
  fi
  export CMAKE_CUDA_HOST_COMPILER
  CMAKE_CUDA_HOST_COMPILER=$(command -v g++-11)
fi
[ -n "${CMAKE_CUDA_HOST_COMPILER:-}" ] && echo "build-cuda: host compiler ${CMAKE_CUDA_HOST_COMPILER}"

if [ "${cuda_version%%.*}" -lt 12 ]; then
  # llama.cpp's Hopper code calls two device functions CUDA 11.8 lacks without -rdc.
  export CMAKE_CUDA_FLAGS="${CMAKE_CUDA_FLAGS:-} -include $(pwd)/scripts/cuda11-hopper.cuh"
  echo "build-cuda: CUDA ${cuda_version}: pre-including scripts/cuda11-hopper.cuh for sm_90 and newer"
fi

if [ -z "${CMAKE_CUDA_ARCHITECTURES:-}" ] && command -v nvidia-smi >/dev/null; then
  caps=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | tr -d . | sort -u | paste -sd';' || true)
  [ -n "$caps" ] && export CMAKE_CUDA_ARCHITECTURES="$caps"
fi
echo "build-cuda: GPU architectures ${CMAKE_CUDA_ARCHITECTURES:-llama.cpp default list (no GPU visible; set CMAKE_CUDA_ARCHITECTURES to build faster)}"

target_dir="${CARGO_TARGET_DIR:-target}"
case "$target_dir" in /*) ;; *) target_dir="$(pwd)/$target_dir" ;; esac

# The static CUDA libraries are linked from <base>/lib64, <base> in CUDA_LIBRARY_PATH or
# /usr/local/cuda. Distribution toolkits keep them in the multiarch directory instead: point
# a lib64 link at it.
if [ -z "${CUDA_LIBRARY_PATH:-}" ] && [ ! -e /usr/local/cuda/lib64/libcudart_static.a ] \
   && [ ! -e /opt/cuda/lib64/libcudart_static.a ]; then
  static=$(find /usr/lib /usr/lib64 -maxdepth 2 -name libcudart_static.a 2>/dev/null | head -n1)
  if [ -n "$static" ]; then
    mkdir -p "$target_dir/cuda-libs"
    ln -sfn "$(dirname "$static")" "$target_dir/cuda-libs/lib64"
    export CUDA_LIBRARY_PATH="$target_dir/cuda-libs"
    [ -e /usr/include/cuda.h ] && export CUDA_PATH="${CUDA_PATH:-/usr}"
    echo "build-cuda: static CUDA libraries from $(dirname "$static")"
  fi
fi

cargo build --release --locked -p siagen --features cuda
bin="$target_dir/release/siagen"
echo "build-cuda: built ${bin} (CUDA); run it with: ${bin} serve"
