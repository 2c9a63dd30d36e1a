#!/usr/bin/env bash
# Device check for siagen-energy, to run on a host with an NVIDIA GPU:
# the real NVML total-energy counter, then the overhead benchmark (which also
# reports whether RAPL and NVML are readable there).
set -euo pipefail
cd "$(dirname "$0")/../../crates/siagen-energy"
cargo test --release --test nvml -- --nocapture real_nvml_if_present
cargo bench --bench overhead
