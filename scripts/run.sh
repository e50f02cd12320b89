#!/usr/bin/env bash
# run.sh BIN — start the Assent app (make run).
#
# On a desktop session it just runs BIN. On a headless machine (no DISPLAY) it
# starts only what the app needs for a try-out — Xvfb, a PulseAudio null sink and
# a Secret Service (gnome-keyring on a private D-Bus session), no database — in a
# persistent demo home, so the library and its key survive between runs:
#   $ASSENT_DEMO_HOME (default ~/.cache/assent-demo); delete it to start over.
# It prints the display and how to take a screenshot.
set -uo pipefail
bin="$(realpath "${1:-bin/assent}")"
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  exec "$bin"
fi
for tool in Xvfb pulseaudio dbus-run-session gnome-keyring-daemon; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool is missing; run 'make deps' (scripts/deps.sh) first" >&2; exit 1; }
done

demo="${ASSENT_DEMO_HOME:-$HOME/.cache/assent-demo}"
mkdir -p "$demo"
demo="$(realpath "$demo")"
export HOME="$demo" XDG_DATA_HOME="$demo/.local/share" XDG_CACHE_HOME="$demo/.cache"
export XDG_CONFIG_HOME="$demo/.config" XDG_RUNTIME_DIR="$demo/run"
export LANG="${LANG:-en_US.UTF-8}"
unset DBUS_SESSION_BUS_ADDRESS PULSE_SERVER ASSENT_HOME ASSENT_CONFIG
mkdir -p "$XDG_DATA_HOME" "$XDG_CACHE_HOME" "$XDG_CONFIG_HOME" "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  pulseaudio --kill >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM

for n in $(seq 90 140); do
  [ -e "/tmp/.X11-unix/X$n" ] || [ -e "/tmp/.X$n-lock" ] || { disp=":$n"; break; }
done
Xvfb "$disp" -screen 0 1280x800x24 -nolisten tcp >"$demo/xvfb.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -e "/tmp/.X11-unix/X${disp#:}" ] && break; sleep 0.1; done
export DISPLAY="$disp"

cat >"$demo/default.pa" <<PA
load-module module-null-sink sink_name=callsink sink_properties=device.description=callsink rate=48000 channels=2
load-module module-native-protocol-unix auth-anonymous=1 socket=$XDG_RUNTIME_DIR/pulse/native
set-default-sink callsink
set-default-source callsink.monitor
PA
mkdir -p "$XDG_RUNTIME_DIR/pulse"
pulseaudio --daemonize=yes --system=false --exit-idle-time=-1 --disallow-exit -n -F "$demo/default.pa" \
  --log-target=file:"$demo/pulse.log" >/dev/null 2>&1
export PULSE_SERVER="unix:$XDG_RUNTIME_DIR/pulse/native"

echo "run.sh: no display found; Assent runs on a virtual display (Xvfb $DISPLAY) with a test" >&2
echo "run.sh: sound server (null sink 'callsink') and keyring. Nothing else is started." >&2
echo "run.sh: demo home (library, key, settings; kept between runs): $demo" >&2
echo "run.sh: screenshot: DISPLAY=$DISPLAY import -window root shot.png   (imagemagick)" >&2
echo "run.sh: click:      DISPLAY=$DISPLAY xdotool mousemove X Y click 1" >&2
echo "run.sh: stop with Ctrl-C." >&2
# The keyring's files live in the demo home, unlocked with a fixed demo
# password, so the library's key is there again on the next run.
dbus-run-session -- bash -c '
  echo -n assent-demo | env -u DISPLAY gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1
  "$1"; rc=$?
  for pid in $(pgrep -u "$(id -u)" gnome-keyring-d); do
    grep -qz "^XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR\$" /proc/$pid/environ 2>/dev/null && kill "$pid" 2>/dev/null
  done
  exit $rc' bash "$bin"
