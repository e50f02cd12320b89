#!/usr/bin/env bash
# with-real-parts.sh CMD [ARGS...] — run CMD with the real parts Assent's tests use:
#   * Xvfb (a real X server)                        → DISPLAY
#   * PulseAudio with a null sink "callsink"        → ASSENT_TEST_PULSE=1, PULSE_SERVER
#     (its monitor "callsink.monitor" is the default source)
#   * D-Bus session + gnome-keyring Secret Service  → ASSENT_TEST_KEYRING=1
#   * PostgreSQL on loopback                        → ASSENT_TEST_PG_DSN
#   * versitygw, a real S3-compatible server        → ASSENT_TEST_S3_ENDPOINT,
#     (SigV4 checked; built once with go install at   ASSENT_TEST_S3_ACCESS_KEY,
#     a pinned version, cached in GOPATH/bin)         ASSENT_TEST_S3_SECRET_KEY
# Each part that cannot start is reported; the tests decide (internal/testenv):
# outside CI they skip, with CI=true they fail. Everything is torn down on exit.
# Set PARTS="x11 pulse keyring pg s3" (default: all) to start only some.
set -uo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
PARTS="${PARTS:-x11 pulse keyring pg s3}"
VERSITYGW_VERSION=v1.8.0 # pinned: the S3 server the object store suite runs against
root="$(mktemp -d /tmp/assent-parts.XXXXXX)"
chmod 755 "$root"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  if [ -n "${PGBIN:-}" ] && [ -d "$root/pg" ]; then
    su postgres -s /bin/sh -c "$PGBIN/pg_ctl -D $root/pg -m immediate stop" >/dev/null 2>&1 || true
  fi
  if [ -n "${pulse_rt:-}" ]; then XDG_RUNTIME_DIR="$pulse_rt" pulseaudio --kill >/dev/null 2>&1 || true; fi
  rm -rf "$root" 2>/dev/null || true
}
trap cleanup EXIT

log() { echo "with-real-parts: $*" >&2; }
has() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }

# Keep Go's caches where they were even though HOME moves below.
export GOCACHE="${GOCACHE:-$(go env GOCACHE 2>/dev/null)}"
export GOMODCACHE="${GOMODCACHE:-$(go env GOMODCACHE 2>/dev/null)}"
export GOPATH="${GOPATH:-$(go env GOPATH 2>/dev/null)}"
export LANG=en_US.UTF-8; unset LC_ALL

# A private home: the keyring and Fyne preferences of tests never touch the user's.
export HOME="$root/home" XDG_DATA_HOME="$root/home/.local/share" XDG_CACHE_HOME="$root/home/.cache"
export XDG_CONFIG_HOME="$root/home/.config" XDG_RUNTIME_DIR="$root/run"
mkdir -p "$XDG_DATA_HOME" "$XDG_CACHE_HOME" "$XDG_CONFIG_HOME" "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"

if has x11; then
  for n in $(seq 90 140); do
    [ -e "/tmp/.X11-unix/X$n" ] || [ -e "/tmp/.X$n-lock" ] || { disp=":$n"; break; }
  done
  Xvfb "$disp" -screen 0 1280x800x24 -nolisten tcp >"$root/xvfb.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do [ -e "/tmp/.X11-unix/X${disp#:}" ] && break; sleep 0.1; done
  if [ -e "/tmp/.X11-unix/X${disp#:}" ]; then export DISPLAY="$disp"; log "Xvfb on $DISPLAY"
  else log "Xvfb did not start: $(tail -2 "$root/xvfb.log")"; unset DISPLAY; fi
fi

if has pulse; then
  pulse_rt="$XDG_RUNTIME_DIR"
  cat >"$root/default.pa" <<PA
load-module module-null-sink sink_name=callsink sink_properties=device.description=callsink rate=48000 channels=2
load-module module-null-sink sink_name=othersink sink_properties=device.description=othersink rate=48000 channels=2
load-module module-native-protocol-unix auth-anonymous=1 socket=$pulse_rt/pulse/native
set-default-sink callsink
set-default-source callsink.monitor
PA
  mkdir -p "$pulse_rt/pulse"
  pulseaudio --daemonize=yes --system=false --exit-idle-time=-1 --disallow-exit -n -F "$root/default.pa" \
    --log-target=file:"$root/pulse.log" >/dev/null 2>&1
  export PULSE_SERVER="unix:$pulse_rt/pulse/native"
  ok=""
  for _ in $(seq 50); do pactl info >/dev/null 2>&1 && { ok=1; break; }; sleep 0.1; done
  if [ -n "$ok" ]; then export ASSENT_TEST_PULSE=1; log "PulseAudio with null sink callsink"
  else log "PulseAudio did not start: $(tail -3 "$root/pulse.log" 2>/dev/null)"; unset PULSE_SERVER; fi
fi

if has pg; then
  PGBIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
  if [ -n "$PGBIN" ] && id postgres >/dev/null 2>&1; then
    mkdir -p "$root/pg" "$root/pgsock"; chown postgres "$root/pg" "$root/pgsock"
    port=$(( 20000 + RANDOM % 20000 ))
    if su postgres -s /bin/sh -c "LC_ALL=C.UTF-8 LANG=C.UTF-8 $PGBIN/initdb --no-locale -E UTF8 -D $root/pg -A trust -U postgres" >"$root/pginit.log" 2>&1 &&
       su postgres -s /bin/sh -c "LC_ALL=C.UTF-8 LANG=C.UTF-8 $PGBIN/pg_ctl -D $root/pg -l $root/pg/log -w -o '-p $port -k $root/pgsock -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300' start" >"$root/pgstart.log" 2>&1; then
      su postgres -s /bin/sh -c "$PGBIN/createdb -h 127.0.0.1 -p $port -U postgres assent_test" >/dev/null 2>&1
      export ASSENT_TEST_PG_DSN="postgres://postgres@127.0.0.1:$port/assent_test?sslmode=disable"
      log "PostgreSQL on 127.0.0.1:$port"
    else
      log "PostgreSQL did not start: $(tail -3 "$root/pgstart.log" "$root/pginit.log" 2>/dev/null)"
    fi
  else
    log "PostgreSQL is not installed (run scripts/deps.sh)"
  fi
fi

if has s3; then
  # Built once per machine (about a minute), then reused from GOPATH/bin; the
  # version file makes a pin change rebuild it.
  vgw="$GOPATH/bin/versitygw"
  if [ ! -x "$vgw" ] || [ "$(cat "$vgw.version" 2>/dev/null)" != "$VERSITYGW_VERSION" ]; then
    log "building versitygw $VERSITYGW_VERSION (once; cached in $GOPATH/bin)"
    if (cd "$root" && GOFLAGS= go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION") >"$root/vgw-build.log" 2>&1; then
      echo "$VERSITYGW_VERSION" >"$vgw.version"
    else
      log "versitygw did not build: $(tail -3 "$root/vgw-build.log")"
    fi
  fi
  if [ -x "$vgw" ]; then
    mkdir -p "$root/s3"
    s3port=$(( 20000 + RANDOM % 20000 ))
    s3key="assent$RANDOM$RANDOM" s3secret="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    ROOT_ACCESS_KEY= ROOT_SECRET_KEY= "$vgw" --access "$s3key" --secret "$s3secret" --port "127.0.0.1:$s3port" \
      posix "$root/s3" >"$root/vgw.log" 2>&1 &
    pids+=($!)
    ok=""
    for _ in $(seq 100); do
      (exec 3<>"/dev/tcp/127.0.0.1/$s3port") 2>/dev/null && { ok=1; break; }; sleep 0.1
    done
    if [ -n "$ok" ]; then
      export ASSENT_TEST_S3_ENDPOINT="http://127.0.0.1:$s3port" ASSENT_TEST_S3_ACCESS_KEY="$s3key" ASSENT_TEST_S3_SECRET_KEY="$s3secret"
      log "versitygw (S3) on 127.0.0.1:$s3port"
    else
      log "versitygw did not start: $(tail -3 "$root/vgw.log")"
    fi
  fi
fi

if has keyring && command -v dbus-run-session >/dev/null && command -v gnome-keyring-daemon >/dev/null; then
  # The daemon gets no DISPLAY: a prompt would hang a test; without a display it fails fast.
  # At the end only OUR daemons are stopped (found by their XDG_RUNTIME_DIR): parallel
  # runs on the same machine must not kill each other's keyrings.
  dbus-run-session -- bash -c '
    echo -n assent-test | env -u DISPLAY gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1
    export ASSENT_TEST_KEYRING=1
    echo "with-real-parts: gnome-keyring Secret Service on the session bus" >&2
    "$@"; rc=$?
    for pid in $(pgrep -u "$(id -u)" gnome-keyring-d); do
      grep -qz "^XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR\$" /proc/$pid/environ 2>/dev/null && kill "$pid" 2>/dev/null
    done
    exit $rc' bash "$@"
  exit $?
fi
"$@"
