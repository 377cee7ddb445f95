#!/usr/bin/env bash
# Editor frame time with a 200-node patch (BENCHMARKS.md, "Editor"): writes
# the patch (40 chains of tone → gain → power amp → speaker → mic), opens
# it in the editor under a private Xvfb with the engine running on the null
# device, and prints frame-time statistics over 300 frames.
set -euo pipefail
cd "$(dirname "$0")/.."
. ./scripts/env.sh
cargo build --locked -p ohmpatch
bin="$CARGO_TARGET_DIR/debug/ohmpatch"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
patch="$dir/200-nodes.ohm.ron"
{
  echo '(version: 1, name: "200 nodes", nodes: {'
  for i in $(seq 0 39); do
    y=$((i * 160))
    echo "\"t$i\": (kind: \"tone\", pos: (0.0, $y.0), params: {\"freq_hz\": 440.0}),"
    echo "\"g$i\": (kind: \"gain\", pos: (260.0, $y.0), params: {\"gain_db\": -6.0}),"
    echo "\"a$i\": (kind: \"power_amp\", pos: (520.0, $y.0)),"
    echo "\"s$i\": (kind: \"speaker\", pos: (780.0, $y.0)),"
    echo "\"m$i\": (kind: \"mic\", pos: (1040.0, $y.0)),"
  done
  echo '}, wires: ['
  for i in $(seq 0 39); do
    echo "(\"t$i.out\", \"g$i.in\"), (\"g$i.out\", \"a$i.in\"), (\"a$i.out\", \"s$i.in\"), (\"s$i.out\", \"m$i.in\"),"
  done
  echo '])'
} > "$patch"
"$bin" check "$patch" > /dev/null
run() {
  OHMPATCH_FRAME_STATS=300 OHMPATCH_BACKEND=null OHMPATCH_CONFIG_DIR="$dir" "$bin" edit "$patch"
}
if [ -n "${DISPLAY:-}" ]; then
  run
else
  xvfb-run -a -s "-screen 0 1600x1000x24" bash -c "$(declare -f run); dir=$dir; patch=$patch; bin=$bin; run"
fi
