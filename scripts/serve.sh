#!/usr/bin/env bash
# Builds siagen (installing missing build packages first) and starts the server:
# http://127.0.0.1:8080, data in ./siagen-data. Extra arguments go to `siagen serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build-deps.sh
exec cargo run --release --locked -p siagen -- serve "$@"
