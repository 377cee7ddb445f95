#!/usr/bin/env bash
# The deadline benchmark (issue 7, suite 5): on the JACK dummy server at 128
# and 64 frames, 48 kHz, three runs of $SECS seconds each under the same
# server:
#   idle    no client: the dummy driver's own timer slips;
#   simple  jack_simple_client (a trivial C client): the baseline;
#   ohmpatch  ohmpatch-deadline playing the demo patch while the editor's
#           edits are applied (a knob every 20 ms, a node in and out every
#           0.5 s), with every callback's duration in a histogram.
# jackd's log is split per run; the script counts the xruns JACK blames on a
# client ("client = NAME was not finished") apart from the driver's timer
# slips ("JackTimedDriver::Process XRun"). Takes about 3 × $SECS seconds per
# buffer size. Not part of CI.
#
#   scripts/bench-deadline.sh                  # 128 and 64 frames, 60 s each
#   BUFFERS=128 SECS=20 scripts/bench-deadline.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/ohmpatch-bench}"
export CARGO_TERM_COLOR=never
SECS="${SECS:-60}"
BUFFERS="${BUFFERS:-128 64}"
PATCH="${PATCH:-graphs/demo.ohm.ron}"
RATE=48000
# A server of our own name, so a JACK server someone else runs is left alone;
# libjack's clients (ours, jack_simple_client) follow this.
export JACK_DEFAULT_SERVER="${JACK_DEFAULT_SERVER:-ohmpatch-bench}"
export JACK_NO_AUDIO_RESERVATION=1

. scripts/jack-bench-setup.sh jackd jack_simple_client
out="$CARGO_TARGET_DIR/deadline/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"

summary="$out/summary.md"
{
    machine_line
    echo "jackd: $(jackd --version 2>&1 | head -1); dummy driver, $RATE Hz; $SECS s per run; patch $PATCH"
    echo
    echo "| frames | run | load avg at start | xruns blamed on the client | other clients blamed | driver timer slips | callbacks | p50 | p99 | p99.9 | max | p99.9 / period | callbacks over ½ period | edits (topology) |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
} > "$summary"

for frames in $BUFFERS; do
    log="$out/jackd-$frames.log"
    start_jackd "$frames" "$log"
    for run in simple ohmpatch idle; do
        load=$(cut -d' ' -f1 /proc/loadavg)
        start=$(wc -l <"$log")
        json=""
        case $run in
            idle) sleep "$SECS" ;;
            simple) timeout -s INT "$SECS" jack_simple_client >"$out/simple-$frames.txt" 2>&1 || true ;;
            ohmpatch)
                json="$out/ohmpatch-$frames.json"
                "$bin" --patch "$PATCH" --seconds "$SECS" --out "$json" >/dev/null
                ;;
        esac
        sleep 1
        part="$out/jackd-$frames-$run.log"
        tail -n "+$((start + 1))" "$log" >"$part"
        case $run in
            simple) mine=$(count 'client = jack_simple_client was not finished' "$part") ;;
            ohmpatch) mine=$(count 'client = ohmpatch was not finished' "$part") ;;
            *) mine=0 ;;
        esac
        all=$(count 'was not finished' "$part")
        slips=$(count 'JackTimedDriver::Process XRun' "$part")
        if [ -n "$json" ]; then
            stats=$(python3 - "$json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"{r['callbacks']} | {r['p50_us']:.0f} µs | {r['p99_us']:.0f} µs | {r['p999_us']:.0f} µs | "
      f"{r['max_us']:.0f} µs | {100 * r['p999_frac']:.1f} % of {r['period_us']:.0f} µs | "
      f"{r['over_half_period']} | {r['edits']} ({r['topology_edits']})")
PY
)
        else
            stats="– | – | – | – | – | – | – | –"
        fi
        echo "| $frames | $run | $load | $mine | $((all - mine)) | $slips | $stats |" >>"$summary"
        echo "$frames frames, $run: blamed $mine, others $((all - mine)), timer slips $slips"
    done
    cleanup
    jpid=""
    sleep 1
done
echo
cat "$summary"
echo "(logs in $out)"
