#!/usr/bin/env bash
# The test command of the README: sets up, then format check, lints and every test.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
. ./scripts/env.sh
echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked 2>&1 | tee "${TMPDIR:-/tmp}/ohmpatch-test.log"
echo "== no allocation on the audio thread, release build"
cargo test --release --locked -p ohmpatch-tests --test no_alloc --test duplex_no_alloc 2>&1 | tee -a "${TMPDIR:-/tmp}/ohmpatch-test.log"
# One closing line for the whole run.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "%d passed, %d failed\n", p, f }' "${TMPDIR:-/tmp}/ohmpatch-test.log"
