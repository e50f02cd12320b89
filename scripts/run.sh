#!/usr/bin/env bash
# run.sh BIN — start the Assent app. On a desktop session it just runs BIN.
# On a headless machine (no DISPLAY) it says so and starts what the app needs for a
# try-out: Xvfb, a PulseAudio null sink and a Secret Service, via with-real-parts.sh.
set -uo pipefail
bin="${1:-bin/assent}"
here="$(cd "$(dirname "$0")" && pwd)"
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  exec "$bin"
fi
echo "run.sh: no display found; starting Assent on a virtual display (Xvfb) with a test sound server" >&2
echo "run.sh: and keyring. Screenshots: DISPLAY shown below, e.g. 'import -window root shot.png'." >&2
exec "$here/with-real-parts.sh" bash -c 'echo "run.sh: DISPLAY=$DISPLAY" >&2; exec "$0"' "$bin"
