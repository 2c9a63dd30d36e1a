#!/usr/bin/env bash
# Installs the system packages needed to build siagen when they are missing (Debian/Ubuntu):
#   cmake and libclang-dev: the local inference engine builds the vendored llama.cpp.
# Idempotent; prints what it installs.
set -euo pipefail
need=()
command -v cmake >/dev/null || need+=(cmake)
# bindgen loads libclang.so itself; libclang-cpp.so (pulled in by other packages) does not do.
ls /usr/lib/llvm-*/lib/libclang.so* /usr/lib/llvm-*/lib/libclang-[0-9]*.so* \
   /usr/lib/*/libclang.so* /usr/lib/*/libclang-[0-9]*.so* >/dev/null 2>&1 || need+=(libclang-dev)
command -v cc >/dev/null || need+=(build-essential)
if [ ${#need[@]} -gt 0 ]; then
  echo "build-deps: installing Debian packages: ${need[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
