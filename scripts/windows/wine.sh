#!/usr/bin/env bash
# wine.sh — run a Windows program under Wine in Assent's private, test-only
# Wine prefix: `scripts/windows/wine.sh bin/assent.exe version`.
#
# The prefix ($WINBUILD/wine, default build/windows/wine) is created on first
# use (wineboot, about 20 s) and holds:
#   - the test-only bcryptprimitives.dll stand-in (bcryptprimitives.c: Wine 8
#     lacks the DLL Go >= 1.22 needs at start-up); never shipped;
#   - nothing of the user's: HOME is a private directory whose .asoundrc makes
#     ALSA's default device a null device, so Wine's sound drivers (WASAPI and
#     MME on top of ALSA) see one silent input and one output, the same on
#     every machine, and no sound server of the host is touched.
# Wine's own debug output is off (WINEDEBUG=-all); set WINEDEBUG to see it.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
WINBUILD="${WINBUILD:-$root/build/windows}"
export WINEPREFIX="$WINBUILD/wine"
export WINEARCH=win64
export WINEDEBUG="${WINEDEBUG:--all}"
# No Mono / Gecko install dialogs; the null sound device through ALSA.
export WINEDLLOVERRIDES="mscoree,mshtml=;winepulse.drv=d;bcryptprimitives=n,b"
whome="$WINBUILD/wine-home"
export HOME="$whome"
# ASSENT_WINE_DISPLAY lets the smoke test show the app window on its own Xvfb.
if [ -n "${ASSENT_WINE_DISPLAY:-}" ]; then export DISPLAY="$ASSENT_WINE_DISPLAY"; else unset DISPLAY; fi
unset WAYLAND_DISPLAY PULSE_SERVER PULSE_SOURCE PULSE_SINK XDG_RUNTIME_DIR DBUS_SESSION_BUS_ADDRESS
# Assent's own overrides would point the Windows program at Linux paths.
unset ASSENT_HOME ASSENT_CONFIG XDG_CONFIG_HOME XDG_DATA_HOME

WINE="$(command -v wine || command -v wine64 || true)"
if [ -z "$WINE" ]; then
  echo "windows/wine.sh: wine is not installed; run scripts/windows/deps.sh" >&2
  exit 1
fi

shim_src="$root/scripts/windows/bcryptprimitives.c"
shim="$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
stamp="$WINEPREFIX/.assent-ready-$(cat "$shim_src" "$0" | sha256sum | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  mkdir -p "$whome"
  printf 'pcm.!default { type null }\nctl.!default { type hw card 0 }\n' >"$whome/.asoundrc"
  if [ ! -d "$WINEPREFIX/drive_c/windows/system32" ]; then
    start=$(date +%s)
    "$WINE" wineboot --init >"$WINBUILD/wineboot.log" 2>&1 || {
      echo "windows/wine.sh: wineboot failed; see $WINBUILD/wineboot.log" >&2; exit 1; }
    wineserver_bin="$(command -v wineserver || echo /usr/lib/wine/wineserver64)"
    "$wineserver_bin" -w 2>/dev/null || true
    echo "windows/wine.sh: created the Wine prefix $WINEPREFIX in $(( $(date +%s) - start )) s" >&2
  fi
  # Go 1.26 supports Windows 10 and later; make the prefix say it is one.
  "$WINE" reg add 'HKCU\Software\Wine' /v Version /d win10 /f >/dev/null 2>&1
  x86_64-w64-mingw32-gcc -O2 -shared -s -o "$shim" "$shim_src" -lbcrypt
  rm -f "$WINEPREFIX"/.assent-ready-*
  touch "$stamp"
fi
exec "$WINE" "$@"
