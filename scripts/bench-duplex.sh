#!/usr/bin/env bash
# The duplex benchmark (issue 14): on a private JACK dummy server, 48 kHz, at
# 128 and 64 frames:
#   1. round trip: jack_iodelay through jack_thru, then through ohmpatch
#      playing a patch `audio_in → output` (the same JACK client `play` opens);
#   2. $SECS seconds of jack_simple_client playing into jack_thru and, at the
#      same time on the same server, into ohmpatch playing
#      graphs/live-guitar-amp.ohm.ron (a guitar chain with a power amp and a
#      speaker) while the editor's edits are applied; the xruns jackd blames
#      on each ("client = NAME was not finished"). Run together, both meet
#      whatever else disturbs the machine in that minute.
# Takes about $SECS + 30 seconds per buffer size. Not part of CI.
# PATCH=gain plays the acceptance test's own patch instead, `audio_in → gain
# (+6 dB) → output`: the same edits on a patch with almost no DSP, so what is
# compared is the two clients, not the guitar chain's work.
#
#   scripts/bench-duplex.sh                  # 128 and 64 frames, 60 s each
#   BUFFERS=128 SECS=20 scripts/bench-duplex.sh
#   PATCH=gain BUFFERS=128 scripts/bench-duplex.sh
#   FIRST=ohmpatch scripts/bench-duplex.sh   # ohmpatch joins the server first
#   EDITS=0 scripts/bench-duplex.sh          # no edits while playing
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/ohmpatch-bench}"
export CARGO_TERM_COLOR=never
SECS="${SECS:-60}"
BUFFERS="${BUFFERS:-128 64}"
PATCH="${PATCH:-graphs/live-guitar-amp.ohm.ron}"
FIRST="${FIRST:-jack_thru}"
# EDITS=0 plays without the edits.
NO_EDITS=
if [ "${EDITS:-1}" = 0 ]; then NO_EDITS=1; fi
RATE=48000
export JACK_DEFAULT_SERVER="${JACK_DEFAULT_SERVER:-ohmpatch-duplex}"
export JACK_NO_AUDIO_RESERVATION=1

. scripts/jack-bench-setup.sh jackd jack_simple_client jack_thru jack_iodelay jack_connect stdbuf
out="$CARGO_TARGET_DIR/duplex/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
thru_patch="$out/thru.ohm.ron"
cat >"$thru_patch" <<'EOF'
(version: 1, nodes: {
    "in": (kind: "audio_in", params: {"channel": 1.0}),
    "out": (kind: "output", params: {"channel": 1.0}),
}, wires: [("in.out", "out.in")])
EOF
if [ "$PATCH" = gain ]; then
    PATCH="$out/gain.ohm.ron"
    cat >"$PATCH" <<'EOF'
(version: 1, nodes: {
    "guitar": (kind: "audio_in", params: {"channel": 1.0}),
    "g": (kind: "gain", params: {"gain_db": 6.0}),
    "out": (kind: "output", params: {"channel": 1.0}),
}, wires: [("guitar.out", "g.in"), ("g.out", "out.in")])
EOF
fi

pids=()
stop_all() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done; pids=(); }
jpid=""
cleanup() { stop_all; if [ -n "$jpid" ]; then kill "$jpid" 2>/dev/null || true; wait "$jpid" 2>/dev/null || true; fi; }
trap cleanup EXIT
wait_port() { for _ in $(seq 100); do jack_lsp | grep -qx "$1" && return 0; sleep 0.1; done; echo "no port $1" >&2; return 1; }
# ohmpatch's first input, whatever node id labels it (`ohmpatch:in_1-guitar`).
wait_in_1() { for _ in $(seq 100); do jack_lsp | grep -q '^ohmpatch:in_1-' && return 0; sleep 0.1; done; echo "no port ohmpatch:in_1-*" >&2; return 1; }

# jack_thru, and ohmpatch for the same-minute run, each waited for before
# going on; ohmpatch's pid in $ohm (that run ends when it does).
start_thru() { jack_thru >/dev/null 2>&1 & pids+=($!); wait_port jack_thru:input_1; }
start_ohmpatch() {
    "$bin" --patch "$PATCH" --seconds "$SECS" --inputs 1 ${NO_EDITS:+--no-edits} --out "$json" >/dev/null &
    ohm=$!
    wait_in_1
}

# Round trip: jack_iodelay's last figure after 5 s through CLIENT:IN → CLIENT:OUT,
# left in $rt (not a subshell: the tool's process must stay in $pids).
iodelay() {
    local file="$out/iodelay-$1-$2.txt"
    stdbuf -o0 jack_iodelay >"$file" 2>&1 &
    pids+=($!)
    wait_port jack_delay:out
    jack_connect jack_delay:out "$3"
    jack_connect "$4" jack_delay:in
    sleep 5
    rt=$(tr '\r' '\n' <"$file" | grep 'total roundtrip latency' | tail -1 | awk '{print $1}')
}

summary="$out/summary.md"
{
    machine_line
    echo "jackd: $(jackd --version 2>&1 | head -1); dummy driver, $RATE Hz; $SECS s per run; patch $PATCH; $FIRST joins first; ${NO_EDITS:+no }edits"
    echo
    echo "| frames | client | round trip (jack_iodelay) | xruns blamed on the client in $SECS s | of them, cycles that blamed it alone | other clients blamed | driver timer slips | edits (topology) |"
    echo "|---|---|---|---|---|---|---|---|"
} >"$summary"

for frames in $BUFFERS; do
    log="$out/jackd-$frames.log"
    start_jackd "$frames" "$log"

    # Round trips: jack_thru, then ohmpatch playing `audio_in → output`.
    start_thru
    iodelay "$frames" thru jack_thru:input_1 jack_thru:output_1
    rt_thru=$rt
    stop_all
    "$bin" --patch "$thru_patch" --seconds 12 --no-edits --inputs 1 >/dev/null &
    pids+=($!)
    wait_port ohmpatch:in_1-in
    iodelay "$frames" ohmpatch ohmpatch:in_1 ohmpatch:out_1
    rt_ohm=$rt
    stop_all
    # jackd logs the killed clients' last cycles a moment later: keep them
    # out of the next part.
    sleep 1

    # Both at once on the same server, for the same $SECS s, so whatever
    # disturbs the machine disturbs both: jack_thru passing a sine through,
    # and ohmpatch playing the guitar chain with edits, fed the same sine.
    json="$out/ohmpatch-$frames.json"
    start=$(wc -l <"$log")
    # JACK wakes a client's dependants in the order they joined; FIRST says
    # which of the two joins, and is connected, first.
    if [ "$FIRST" = ohmpatch ]; then
        start_ohmpatch; start_thru; order="ohmpatch:in_1 jack_thru:input_1"
    else
        start_thru; start_ohmpatch; order="jack_thru:input_1 ohmpatch:in_1"
    fi
    jack_simple_client >/dev/null 2>&1 &
    pids+=($!)
    wait_port jack_simple_client:output1
    for port in $order; do jack_connect jack_simple_client:output1 "$port"; done
    wait "$ohm"
    part="$out/jackd-$frames-both.log"
    tail -n "+$((start + 1))" "$log" >"$part"
    stop_all
    thru_mine=$(count 'client = jack_thru was not finished' "$part")
    mine=$(count 'client = ohmpatch was not finished' "$part")
    all=$(count 'was not finished' "$part")
    slips=$(count 'JackTimedDriver::Process XRun' "$part")
    edits=$(python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(f\"{r['edits']} ({r['topology_edits']})\")" "$json")
    thru_alone=$(python3 scripts/jack-alone.py "$part" jack_thru)
    alone=$(python3 scripts/jack-alone.py "$part" ohmpatch)
    echo "| $frames | jack_thru | $rt_thru frames | $thru_mine | $thru_alone | $((all - thru_mine - mine)) | $slips | – |" >>"$summary"
    echo "| $frames | ohmpatch | $rt_ohm frames | $mine | $alone | (same run) | (same run) | $edits |" >>"$summary"
    echo "$frames frames: round trip jack_thru $rt_thru, ohmpatch $rt_ohm; blamed jack_thru $thru_mine, ohmpatch $mine"

    kill "$jpid" 2>/dev/null || true
    wait "$jpid" 2>/dev/null || true
    jpid=""
    sleep 1
done
echo
cat "$summary"
echo "(logs in $out)"
