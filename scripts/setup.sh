#!/usr/bin/env bash
# Installs what ohmpatch needs on Debian (as root), only what is missing.
# Safe to run again: it checks before installing.
set -euo pipefail

packages=(
  build-essential pkg-config
  libasound2-dev libudev-dev libjack-jackd2-dev jackd2 jack-capture
  libx11-dev libxkbcommon-dev libwayland-dev
  xvfb xdotool mesa-vulkan-drivers libvulkan1
  libxcursor1 libxrandr2 libxi6 libxkbcommon-x11-0 libx11-xcb1
  sox espeak-ng
  liblilv-dev swh-lv2 guitarix-lv2
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  # jackd2 asks about real-time priority unless told not to.
  echo "jackd2 jackd/tweak_rt_limits boolean false" | $SUDO debconf-set-selections 2>/dev/null || true
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo is not on PATH; ohmpatch needs Rust 1.95 (rustup's stable toolchain)." >&2
  exit 1
fi
