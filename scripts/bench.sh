#!/usr/bin/env bash
# The engine benchmarks (issue 7): host overhead, peers, example patches and
# compile time, with divan; prints the tables of BENCHMARKS.md, ratios taken
# from this one run. Takes a few minutes on 2 cores. Not part of CI.
#
#   scripts/bench.sh            # all suites
#   scripts/bench.sh peers      # only benches whose path matches "peers"
#
# The raw divan output is kept in $CARGO_TARGET_DIR/ohmpatch-bench.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/ohmpatch-bench}"
export CARGO_TERM_COLOR=never
raw="$CARGO_TARGET_DIR/ohmpatch-bench.txt"
mkdir -p "$CARGO_TARGET_DIR"
cargo bench -p ohmpatch-bench --bench engine -- "$@" | tee "$raw"
echo
echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), $(free -g | awk '/^Mem:/ {print $2}') GiB; $(rustc --version); $(date -u +%Y-%m-%dT%H:%MZ)"
python3 scripts/bench_tables.py "$raw"
