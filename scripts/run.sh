#!/usr/bin/env bash
# The main command of the README: sets up, builds, and runs ohmpatch on the
# demo patch. The graphical editor is not in this build yet, so this checks
# the demo patch, renders it to demo.wav and plays it for a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
. ./scripts/env.sh
cargo build --locked -p ohmpatch
bin="$CARGO_TARGET_DIR/debug/ohmpatch"
patch="${1:-graphs/demo.ohm.ron}"
"$bin" check "$patch"
"$bin" render "$patch" --out demo.wav --seconds 5
"$bin" play "$patch" --seconds 5
