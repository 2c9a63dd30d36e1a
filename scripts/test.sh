#!/usr/bin/env bash
# Runs every test: installs missing test dependencies (scripts/test-deps.sh), then the whole
# Cargo workspace's unit and integration tests (real server, real SQLite, real validators).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/test-deps.sh
export SIAGEN_TEST_DEPS="${SIAGEN_TEST_DEPS:-$PWD/target/test-deps}"
cargo test --workspace --locked "$@"
