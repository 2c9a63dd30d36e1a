#!/usr/bin/env bash
# Compare siagen-meds with pddiansm (PyPI, MIT) on the same random prescriptions: agreement of
# findings and throughput, side by side. Creates a throw-away virtual environment.
# Usage: bench/meds/compare.sh [--prescriptions N] [--drugs K] [--edition 2020-01] [--seed S]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="$(mktemp -d)/venv"
trap 'rm -rf "$(dirname "$venv")"' EXIT
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet "pddiansm==0.2.0"
manifest="$root/crates/siagen-meds/Cargo.toml"
cargo bench --quiet --manifest-path "$manifest" --bench meds_bench --no-run
bench_bin="$(cargo bench --manifest-path "$manifest" --bench meds_bench --no-run --message-format=json 2>/dev/null \
  | "$venv/bin/python" -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "meds_bench":
        print(m["executable"])')"
"$venv/bin/python" "$root/bench/meds/compare.py" --bench-cmd "$bench_bin" --data "$root/data/ansm-thesaurus" "$@"
