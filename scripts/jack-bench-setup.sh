# Sourced by the JACK benchmarks, with the tools they need as arguments:
# checks the tools, refuses to touch a server of $JACK_DEFAULT_SERVER's name
# that someone already runs, frees JACK's registry slots of dead servers
# (scripts/jack-free-slots.py), builds `ohmpatch-deadline` into $bin, and
# defines start_jackd, stop_all, wait_port, machine_line and count.
for tool in "$@" jack_wait; do
    command -v "$tool" >/dev/null || { echo "$tool is missing (apt-get install jackd2)" >&2; exit 1; }
done
if jack_wait -c 2>/dev/null | grep -qx running; then
    echo "a JACK server named $JACK_DEFAULT_SERVER is already running; stop it first" >&2
    exit 1
fi
python3 scripts/jack-free-slots.py
cargo build --profile bench -p ohmpatch-bench --bin ohmpatch-deadline
bin="$CARGO_TARGET_DIR/release/ohmpatch-deadline"
# The first line of each summary: what ran it.
machine_line() {
    echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), $(free -g | awk '/^Mem:/ {print $2}') GiB; $(uname -r); $(date -u +%Y-%m-%dT%H:%MZ)"
}
# Clients a script started (their pids in $pids), stopped together; the
# server and they are stopped on exit too, unless the script sets a trap of
# its own.
pids=()
stop_all() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done; pids=(); }
jpid=""
cleanup() { stop_all; if [ -n "$jpid" ]; then kill "$jpid" 2>/dev/null || true; wait "$jpid" 2>/dev/null || true; fi; }
trap cleanup EXIT
# Wait up to 10 s for the JACK port $1 to exist.
wait_port() { for _ in $(seq 100); do jack_lsp | grep -qx "$1" && return 0; sleep 0.1; done; echo "no port $1" >&2; return 1; }
# How many lines of file $2 hold $1 (jackd's blame lines), 0 when none.
count() { grep -c -- "$1" "$2" || true; }
# Start the private dummy server at $RATE Hz and $1 frames, logging to $2;
# its pid in $jpid (for the script's cleanup). Returns once it answers.
start_jackd() {
    jackd -n "$JACK_DEFAULT_SERVER" -d dummy -r "$RATE" -p "$1" >"$2" 2>&1 &
    jpid=$!
    jack_wait -w -t 10 >/dev/null
    sleep 2
}
