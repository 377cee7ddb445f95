#!/usr/bin/env bash
# The main command of the README: sets up, builds, and opens the ohmpatch
# editor on the demo patch (or on the patch given as the first argument).
# Without a display (no DISPLAY or WAYLAND_DISPLAY) it checks, renders and
# plays the patch from the command line instead.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
. ./scripts/env.sh
cargo build --locked -p ohmpatch
bin="$CARGO_TARGET_DIR/debug/ohmpatch"
patch="${1:-graphs/demo.ohm.ron}"
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  exec "$bin" edit "$patch"
fi
echo "run: no display here, so no editor window; checking, rendering and playing $patch instead" >&2
"$bin" check "$patch"
"$bin" render "$patch" --out demo.wav --seconds 5
"$bin" play "$patch" --seconds 5
