#!/usr/bin/env bash
# Worker threads on a real-time server: on the JACK dummy server at 128
# frames, 48 kHz, ohmpatch-deadline plays
#   half   one rig of graphs/two-rigs.ohm.ron (the b_ nodes left out) on one
#          thread: half the load, the single-threaded baseline;
#   two    the whole two-rig patch with the default threads (one per core);
# $ROUNDS times each, in turn, $SECS seconds a run, jack_simple_client
# running beside it as a trivial client to compare with. It counts the xruns
# JACK blames on each client ("client = NAME was not finished") and reports
# ohmpatch's callback times and each thread's load. Not part of CI.
#
#   scripts/bench-threads.sh
#   SECS=20 ROUNDS=1 scripts/bench-threads.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/ohmpatch-bench}"
export CARGO_TERM_COLOR=never
SECS="${SECS:-60}"
ROUNDS="${ROUNDS:-2}"
FRAMES=128
RATE=48000
export JACK_DEFAULT_SERVER="${JACK_DEFAULT_SERVER:-ohmpatch-threads}"
export JACK_NO_AUDIO_RESERVATION=1

. scripts/jack-bench-setup.sh jackd jack_simple_client
out="$CARGO_TARGET_DIR/threads/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
# One rig: every line that names a b_ node or its outputs dropped.
grep -v -e '"b_' -e '"out_b_' graphs/two-rigs.ohm.ron >"$out/one-rig.ohm.ron"
cp -r assets "$out/" 2>/dev/null || true

jpid=""
spid=""
cleanup() {
    if [ -n "$spid" ]; then kill -INT "$spid" 2>/dev/null || true; wait "$spid" 2>/dev/null || true; fi
    if [ -n "$jpid" ]; then kill "$jpid" 2>/dev/null || true; wait "$jpid" 2>/dev/null || true; fi
}
trap cleanup EXIT

summary="$out/summary.md"
{
    machine_line
    echo "jackd: $(jackd --version 2>&1 | head -1); dummy driver, $RATE Hz, $FRAMES frames; $SECS s per run, no edits"
    echo
    echo "| round | run | threads | on workers | blamed on ohmpatch | blamed on jack_simple_client | callbacks | p50 | p99 | p99.9 | max | per-thread load | workers |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
} >"$summary"

log="$out/jackd.log"
start_jackd "$FRAMES" "$log"
for round in $(seq 1 "$ROUNDS"); do
    for run in half two; do
        case $run in
            half) patch="$out/one-rig.ohm.ron"; threads=1 ;;
            two) patch=graphs/two-rigs.ohm.ron; threads=$(nproc) ;;
        esac
        start=$(wc -l <"$log")
        jack_simple_client >/dev/null 2>&1 &
        spid=$!
        sleep 1
        json="$out/$run-$round.json"
        "$bin" --patch "$patch" --seconds "$SECS" --no-edits --threads "$threads" --out "$json" >/dev/null
        kill -INT "$spid" 2>/dev/null || true
        wait "$spid" 2>/dev/null || true
        spid=""
        sleep 1
        part="$out/jackd-$run-$round.log"
        tail -n "+$((start + 1))" "$log" >"$part"
        mine=$(count 'client = ohmpatch was not finished' "$part")
        simple=$(count 'client = jack_simple_client was not finished' "$part")
        stats=$(python3 - "$json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
loads = " ".join(f"{100 * l:.0f} %" for l in r["thread_loads"]) or "–"
print(f"{r['threads']} | {'yes' if r['parallel'] else 'no'} | MINE | SIMPLE | {r['callbacks']} | "
      f"{r['p50_us']:.0f} µs | {r['p99_us']:.0f} µs | {r['p999_us']:.0f} µs | {r['max_us']:.0f} µs | "
      f"{loads} | {r['workers']}")
PY
)
        stats=${stats/MINE/$mine}
        stats=${stats/SIMPLE/$simple}
        echo "| $round | $run | $stats |" >>"$summary"
        echo "round $round, $run: blamed on ohmpatch $mine, on jack_simple_client $simple"
    done
done
echo
cat "$summary"
echo "(logs in $out)"
