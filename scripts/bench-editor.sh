#!/usr/bin/env bash
# Editor frame time with 200-node patches (BENCHMARKS.md, "Editor"): writes
# two patches of 40 chains of five nodes each, opens each in the editor under
# a private Xvfb (software rendering) with the engine running on the null
# device, and prints frame-time statistics over 300 frames.
#   light: tone → gain → gain → gain → gain (little DSP: the editor alone)
#   heavy: tone → gain → power amp → speaker → mic (the engine busy too)
set -euo pipefail
cd "$(dirname "$0")/.."
. ./scripts/env.sh
cargo build --locked -p ohmpatch
bin="$CARGO_TARGET_DIR/debug/ohmpatch"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
write() { # NAME KIND3 KIND4 KIND5
  {
    echo "(version: 1, name: \"200 nodes, $1\", nodes: {"
    for i in $(seq 0 39); do
      y=$((i * 160))
      echo "\"t$i\": (kind: \"tone\", pos: (0.0, $y.0), params: {\"freq_hz\": 440.0}),"
      echo "\"g$i\": (kind: \"gain\", pos: (260.0, $y.0), params: {\"gain_db\": -6.0}),"
      echo "\"a$i\": (kind: \"$2\", pos: (520.0, $y.0)),"
      echo "\"s$i\": (kind: \"$3\", pos: (780.0, $y.0)),"
      echo "\"m$i\": (kind: \"$4\", pos: (1040.0, $y.0)),"
    done
    echo '}, wires: ['
    for i in $(seq 0 39); do
      echo "(\"t$i.out\", \"g$i.in\"), (\"g$i.out\", \"a$i.in\"), (\"a$i.out\", \"s$i.in\"), (\"s$i.out\", \"m$i.in\"),"
    done
    echo '])'
  } > "$dir/$1.ohm.ron"
  "$bin" check "$dir/$1.ohm.ron" > /dev/null
}
write light gain gain gain
write heavy power_amp speaker mic
for p in light heavy; do
  echo -n "$p: "
  OHMPATCH_FRAME_STATS=300 OHMPATCH_BACKEND=null OHMPATCH_CONFIG_DIR="$dir" \
    xvfb-run -a -s "-screen 0 1600x1000x24" "$bin" edit "$dir/$p.ohm.ron" 2>/dev/null | grep frames
done
