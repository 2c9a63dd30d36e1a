#!/usr/bin/env bash
# Side-by-side benchmark of siagen against llama.cpp's own tools on the same
# random-weight GGUF files and thread count (see bench/engine/README.md).
#
# Build llama.cpp's llama-bench and llama-server yourself (nothing of
# llama.cpp's tools is part of this repository), then:
#
#   LLAMA_BENCH=/path/to/llama-bench LLAMA_SERVER=/path/to/llama-server \
#     bench/engine/compare.sh [MODEL...]
#
# MODEL is SHAPE:DTYPE with SHAPE 0.5b or 1.5b and DTYPE q8_0 or q4_k_m
# (default: 0.5b:q8_0 0.5b:q4_k_m 1.5b:q4_k_m 1.5b:q8_0). The models are
# written once into $MODELS_DIR (default target/bench-models). Other
# variables: THREADS (default 2), REPS (3), HTTP_REPS (3), STREAMS (8),
# EXTRA (more engine-bench arguments), NO_BUILD=1 (use the binaries already in
# target/release). The environment (e.g. OMP_WAIT_POLICY) reaches siagen and
# llama.cpp alike.
set -euo pipefail
cd "$(dirname "$0")/../.."

: "${LLAMA_BENCH:?set LLAMA_BENCH to llama.cpp's llama-bench binary}"
: "${LLAMA_SERVER:?set LLAMA_SERVER to llama.cpp's llama-server binary}"
for b in "$LLAMA_BENCH" "$LLAMA_SERVER"; do
    [ -x "$b" ] || { echo "compare.sh: $b is not an executable" >&2; exit 2; }
done
THREADS=${THREADS:-2}
REPS=${REPS:-3}
HTTP_REPS=${HTTP_REPS:-3}
STREAMS=${STREAMS:-8}
MODELS_DIR=${MODELS_DIR:-target/bench-models}
mkdir -p "$MODELS_DIR"

[ -n "${NO_BUILD:-}" ] || cargo build --release -p siagen -p siagen-engine-bench
SIAGEN=target/release/siagen
BENCH=target/release/engine-bench

models=("$@")
[ ${#models[@]} -gt 0 ] || models=(0.5b:q8_0 0.5b:q4_k_m 1.5b:q4_k_m 1.5b:q8_0)
echo "# siagen vs llama.cpp, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, threads $THREADS"
echo "# $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-unset}"
for m in "${models[@]}"; do
    shape=${m%%:*}
    dtype=${m##*:}
    # Model files are named like the engine names them: the file stem.
    file="$MODELS_DIR/qwen2.5-${shape}-shape-${dtype}.gguf"
    echo
    echo "## $shape $dtype"
    # shellcheck disable=SC2086
    "$BENCH" --model "$file" --shape "$shape" --dtype "$dtype" --threads "$THREADS" \
        --reps "$REPS" --http-reps "$HTTP_REPS" --streams "$STREAMS" \
        --siagen "$SIAGEN" --llama-bench "$LLAMA_BENCH" --llama-server "$LLAMA_SERVER" ${EXTRA:-}
done
