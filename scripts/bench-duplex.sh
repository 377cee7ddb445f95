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
#   CONTROLS=1 scripts/bench-duplex.sh       # and two reference clients
# CONTROLS=1 adds, in the same minute, a second jack_thru (JACK names it
# jack_thru-01: what one identical client's count says of another's) and
# ohmpatch-busy-thru, jack_thru's work plus $BUSY_US µs of busy time each
# callback (default 5, about ohmpatch's median on the gain patch): what the
# length of a callback alone costs in blamed cycles.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/ohmpatch-bench}"
export CARGO_TERM_COLOR=never
SECS="${SECS:-60}"
BUFFERS="${BUFFERS:-128 64}"
PATCH="${PATCH:-graphs/live-guitar-amp.ohm.ron}"
FIRST="${FIRST:-jack_thru}"
BUSY_US="${BUSY_US:-5}"
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

# ohmpatch's first input, whatever node id labels it (`ohmpatch:in_1-guitar`).
wait_in_1() { for _ in $(seq 100); do jack_lsp | grep -q '^ohmpatch:in_1-' && return 0; sleep 0.1; done; echo "no port ohmpatch:in_1-*" >&2; return 1; }

# The same-minute run's clients, each waited for before going on; each
# appends its JACK name to $names and its input port to $order. ohmpatch's
# pid goes in $ohm (that run ends when it does).
names=()
order=()
start_thru() {
    jack_thru >/dev/null 2>&1 &
    pids+=($!)
    # A second jack_thru gets the name the server gives it.
    local name=jack_thru
    [[ " ${names[*]} " == *" jack_thru "* ]] && name=jack_thru-01
    wait_port "$name:input_1"
    names+=("$name")
    order+=("$name:input_1")
}
start_busy() {
    "$busy_bin" busy_thru --busy-us "$BUSY_US" >/dev/null 2>&1 &
    pids+=($!)
    wait_port busy_thru:input_1
    names+=(busy_thru)
    order+=(busy_thru:input_1)
}
start_ohmpatch() {
    "$bin" --patch "$PATCH" --seconds "$SECS" --inputs 1 ${NO_EDITS:+--no-edits} --out "$json" >/dev/null &
    ohm=$!
    wait_in_1
    names+=(ohmpatch)
    order+=(ohmpatch:in_1)
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

if [ -n "${CONTROLS:-}" ]; then
    cargo build --profile bench -p ohmpatch-bench --bin ohmpatch-busy-thru
    busy_bin="$CARGO_TARGET_DIR/release/ohmpatch-busy-thru"
fi

summary="$out/summary.md"
{
    machine_line
    echo "jackd: $(jackd --version 2>&1 | head -1); dummy driver, $RATE Hz; $SECS s per run; patch $PATCH; $FIRST joins first; ${NO_EDITS:+no }edits${CONTROLS:+; controls: jack_thru-01, busy_thru at $BUSY_US µs}"
    echo
    echo "| frames | client | round trip (jack_iodelay) | xruns blamed on the client in $SECS s | of them, cycles that blamed it alone | of them, caught in its callback | other clients blamed | driver timer slips | edits (topology) |"
    echo "|---|---|---|---|---|---|---|---|---|"
} >"$summary"

for frames in $BUFFERS; do
    log="$out/jackd-$frames.log"
    start_jackd "$frames" "$log"

    # Round trips: jack_thru, then ohmpatch playing `audio_in → output`.
    names=()
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
    # and ohmpatch playing the patch with edits, fed the same sine (and the
    # reference clients with CONTROLS=1).
    json="$out/ohmpatch-$frames.json"
    start=$(wc -l <"$log")
    # JACK wakes a client's dependants in the order they joined; FIRST says
    # which of the two joins, and is connected, first.
    names=()
    order=()
    if [ "$FIRST" = ohmpatch ]; then
        start_ohmpatch; start_thru
    else
        start_thru; start_ohmpatch
    fi
    if [ -n "${CONTROLS:-}" ]; then start_thru; start_busy; fi
    jack_simple_client >/dev/null 2>&1 &
    pids+=($!)
    wait_port jack_simple_client:output1
    for port in "${order[@]}"; do jack_connect jack_simple_client:output1 "$port"; done
    wait "$ohm"
    part="$out/jackd-$frames-both.log"
    tail -n "+$((start + 1))" "$log" >"$part"
    stop_all
    all=$(count 'was not finished' "$part")
    slips=$(count 'JackTimedDriver::Process XRun' "$part")
    edits=$(python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(f\"{r['edits']} ({r['topology_edits']})\")" "$json")
    # Each client's blames, and what is left for the others.
    blamed=()
    others=$all
    for name in "${names[@]}"; do
        blamed+=("$(count "client = $name was not finished" "$part")")
        others=$((others - ${blamed[-1]}))
    done
    line="$frames frames: round trip jack_thru $rt_thru, ohmpatch $rt_ohm; blamed"
    first=1
    for i in "${!names[@]}"; do
        name=${names[$i]}
        n=${blamed[$i]}
        running=$(count "client = $name was not finished, state = Running" "$part")
        alone=$(python3 scripts/jack-alone.py "$part" "$name")
        case $name in
            jack_thru) rt="$rt_thru frames" ;;
            ohmpatch) rt="$rt_ohm frames" ;;
            *) rt="–" ;;
        esac
        [ "$name" = ohmpatch ] && e=$edits || e="–"
        if [ -n "$first" ]; then o=$others; s=$slips; first=; else o="(same run)"; s="(same run)"; fi
        echo "| $frames | $name | $rt | $n | $alone | $running | $o | $s | $e |" >>"$summary"
        line="$line $name $n"
    done
    echo "$line"

    kill "$jpid" 2>/dev/null || true
    wait "$jpid" 2>/dev/null || true
    jpid=""
    sleep 1
done
echo
cat "$summary"
echo "(logs in $out)"
