#!/usr/bin/env bash
# The main command of the README: sets up, builds, and opens the ohmpatch
# editor on the demo patch (or on the patch given as the first argument).
# Without a display (no DISPLAY or WAYLAND_DISPLAY) it opens the editor on a
# virtual display and saves its window to editor.png, then checks, renders and
# plays the patch from the command line.
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
echo "run: no display here: opening the editor on a virtual display (Xvfb) and saving what it shows to editor.png; then checking, rendering and playing $patch" >&2
xvfb-run -a -s "-screen 0 1600x1000x24" "$bin" screenshot "$patch" --out editor.png 2>/dev/null \
  && echo "run: the editor drew $patch; see editor.png" >&2
"$bin" check "$patch"
"$bin" render "$patch" --out demo.wav --seconds 5
"$bin" play "$patch" --seconds 5
