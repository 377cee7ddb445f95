#!/usr/bin/env bash
# What the length of a process callback costs in blamed cycles on this
# machine: on a private JACK dummy server (48 kHz, $FRAMES frames),
# jack_simple_client feeds jack_thru and one ohmpatch-busy-thru per entry of
# $BUSY (jack_thru's work plus that many µs of busy time per callback), all
# in the same $SECS seconds; $ROUNDS rounds, the join order turned each round
# (JACK wakes a client's dependants in the order they joined). Counts the
# xruns jackd blames on each client, the cycles that blamed it alone, and
# those that caught it in its callback ("state = Running"). Not part of CI.
#
#   scripts/bench-busy.sh                       # 5, 260 and 520 µs at 128 frames
#   FRAMES=64 BUSY="1 2 5" scripts/bench-busy.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/ohmpatch-bench}"
export CARGO_TERM_COLOR=never
SECS="${SECS:-60}"
ROUNDS="${ROUNDS:-3}"
FRAMES="${FRAMES:-128}"
BUSY="${BUSY:-5 260 520}"
RATE=48000
export JACK_DEFAULT_SERVER="${JACK_DEFAULT_SERVER:-ohmpatch-busy}"
export JACK_NO_AUDIO_RESERVATION=1

. scripts/jack-bench-setup.sh jackd jack_simple_client jack_thru jack_connect
cargo build --profile bench -p ohmpatch-bench --bin ohmpatch-busy-thru
busy_bin="$CARGO_TARGET_DIR/release/ohmpatch-busy-thru"
out="$CARGO_TARGET_DIR/busy/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"

# The clients by JACK name; a busy one is named after its busy time.
clients=(jack_thru)
for us in $BUSY; do clients+=("busy_$us"); done
start_client() {
    case $1 in
        jack_thru) jack_thru >/dev/null 2>&1 & ;;
        busy_*) "$busy_bin" "$1" --busy-us "${1#busy_}" >/dev/null 2>&1 & ;;
    esac
    pids+=($!)
    wait_port "$1:input_1"
}

summary="$out/summary.md"
{
    machine_line
    echo "jackd: $(jackd --version 2>&1 | head -1); dummy driver, $RATE Hz, $FRAMES frames; $SECS s per round"
    echo
    echo "| round | join order | client | blamed | alone | caught in its callback |"
    echo "|---|---|---|---|---|---|"
} >"$summary"

log="$out/jackd.log"
start_jackd "$FRAMES" "$log"
n=${#clients[@]}
for round in $(seq 1 "$ROUNDS"); do
    # Round r starts with client r-1 and goes on in turn.
    order=()
    for i in $(seq 0 $((n - 1))); do order+=("${clients[$(((round - 1 + i) % n))]}"); done
    for c in "${order[@]}"; do start_client "$c"; done
    jack_simple_client >/dev/null 2>&1 &
    pids+=($!)
    wait_port jack_simple_client:output1
    start=$(wc -l <"$log")
    for c in "${order[@]}"; do jack_connect jack_simple_client:output1 "$c:input_1"; done
    sleep "$SECS"
    part="$out/jackd-$round.log"
    tail -n "+$((start + 1))" "$log" >"$part"
    stop_all
    sleep 1
    line="round $round:"
    for c in "${order[@]}"; do
        b=$(count "client = $c was not finished" "$part")
        a=$(python3 scripts/jack-alone.py "$part" "$c")
        r=$(count "client = $c was not finished, state = Running" "$part")
        echo "| $round | ${order[*]} | $c | $b | $a | $r |" >>"$summary"
        line="$line $c $b"
    done
    echo "$line"
done
echo
cat "$summary"
echo "(logs in $out)"
