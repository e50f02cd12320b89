#!/usr/bin/env bash
# deps.sh — install the system packages Assent needs to build, run and test.
#
# Idempotent: packages already installed are skipped. On Debian/Ubuntu it runs
# apt-get (as root, or through sudo). On any other system it prints exactly what
# to install and exits non-zero.
#
# Usage: scripts/deps.sh [build|run|test]   (default: test = everything)
set -euo pipefail

profile="${1:-test}"

build_pkgs=(gcc libc6-dev pkg-config libgl-dev libx11-dev libxrandr-dev libxcursor-dev
  libxinerama-dev libxi-dev libxxf86vm-dev portaudio19-dev libasound2-dev
  libopus-dev libopusfile-dev)
run_pkgs=(pulseaudio pulseaudio-utils libasound2-plugins dbus gnome-keyring libgl1-mesa-dri)
test_pkgs=(xvfb dbus-x11 espeak-ng sox ffmpeg opus-tools age postgresql xdotool imagemagick
  chromium procps psmisc curl nodejs npm
  pipewire pipewire-pulse wireplumber) # a private PipeWire for the call-only test (internal/pulsetest)

case "$profile" in
  build) want=("${build_pkgs[@]}") ;;
  run) want=("${build_pkgs[@]}" "${run_pkgs[@]}") ;;
  test) want=("${build_pkgs[@]}" "${run_pkgs[@]}" "${test_pkgs[@]}") ;;
  *) echo "deps.sh: unknown profile '$profile' (use build, run or test)" >&2; exit 2 ;;
esac

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  echo "deps.sh: this is not a Debian/Ubuntu system; install the equivalents of:" >&2
  printf '  %s\n' "${want[@]}" >&2
  echo "then run the make target again." >&2
  exit 1
fi

# Packages satisfied by a command that did not come from Debian's package of
# that name: Node.js from NodeSource ships npm inside its nodejs package, and
# Debian's npm then cannot be installed beside it (held broken packages).
declare -A by_command=([nodejs]=node [npm]=npm)

missing=()
for p in "${want[@]}"; do
  if [ -n "${by_command[$p]:-}" ] && command -v "${by_command[$p]}" >/dev/null 2>&1; then
    continue
  fi
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

echo "deps.sh: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "deps.sh: need root to install: ${missing[*]}" >&2; exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps.sh: done"
