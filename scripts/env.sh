# Sourced by the scripts: where builds go. A build folder outside the checkout
# is reused between clones when present, so a second run is warm.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/ohmpatch-target}"
mkdir -p "$CARGO_TARGET_DIR" 2>/dev/null || export CARGO_TARGET_DIR="$PWD/target"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
