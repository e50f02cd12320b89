#!/usr/bin/env bash
# smoke.sh — run the cross-built bin/assent.exe under Wine (private prefix,
# null ALSA sound device, scripts/windows/wine.sh) and check what a rep does
# first: version, devices (PortAudio must list WASAPI inputs), list, key
# export, a recording with the default settings (both sides: WASAPI loopback
# of the default output as the call audio — which Wine 8 refuses, so the
# refusal must be said plainly and nothing recorded), a short recording of
# the microphone alone with typed consent that leaves sealed, encrypted
# segments, list showing it, delete, and list and the vault without it. Then the platform tests (paths, durable
# rename, locks across processes) and the Credential Manager size test run
# as Windows programs under the same Wine.
# Output and logs: artifacts/windows/ (the exported key is never shown and
# is deleted once the stock age CLI has used it).
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$(pwd)"
export WINBUILD="${WINBUILD:-$root/build/windows}"
GO="${GO:-go}"
exe="${EXE:-bin/assent.exe}"
art="$root/artifacts/windows"
mkdir -p "$art"
wine="$root/scripts/windows/wine.sh"
step() { printf '\nwindows-smoke: %s (%s)\n' "$*" "$(date +%H:%M:%S)"; }
die() { echo "windows-smoke: FAIL: $*" >&2; exit 1; }
[ -f "$exe" ] || die "$exe is missing; run make windows first"
start=$(date +%s)

# A fresh Windows user profile for Assent each run: no vault, no settings
# and no keys from a previous run (the Wine prefix itself is kept).
step "fresh Wine prefix state"
"$wine" cmd /c echo ready >/dev/null 2>&1 || die "Wine does not start (see $WINBUILD/wineboot.log)"
user="$(ls "$WINBUILD/wine/drive_c/users" | grep -vx Public | head -1)"
profile="$WINBUILD/wine/drive_c/users/$user"
rm -rf "$profile/AppData/Local/Assent" "$profile/AppData/Roaming/Assent"
# Keys from an earlier run live in Wine's Credential Manager (its registry);
# the new vault gets new ones, the old ones are simply unused.

run() { # run NAME ARGS... : assent.exe ARGS under Wine, output in $art/NAME.txt
  local name="$1"; shift
  local rc=0
  timeout 300 "$wine" "$exe" "$@" >"$art/$name.txt" 2>"$art/$name.err" || rc=$?
  if [ "$rc" != 0 ]; then
    cat "$art/$name.txt" "$art/$name.err" >&2; die "assent $* exited with $rc"
  fi
}

step "assent version"
run version version
cat "$art/version.txt"
grep -q "^assent [0-9]" "$art/version.txt" || die "version printed no version"

step "assent devices"
run devices devices
cat "$art/devices.txt"
grep -qiE '^[* ]*[0-9]+ .*Windows WASAPI' "$art/devices.txt" || die "PortAudio listed no WASAPI input"
grep -qiE '^[* ]*[0-9]+ .*MME' "$art/devices.txt" || die "PortAudio listed no MME input"

step "assent list (empty vault, created in %LOCALAPPDATA%)"
run list-empty list
cat "$art/list-empty.txt"
vault="$profile/AppData/Local/Assent"
[ -f "$vault/vault.json" ] || die "no vault in %LOCALAPPDATA%\\Assent ($vault)"
echo "vault: %LOCALAPPDATA%\\Assent ($(ls "$vault" | tr '\n' ' '))"

step "assent key export"
key="$WINBUILD/smoke-key.txt"
"$wine" "$exe" key export >"$key" 2>"$art/key-export.err" || { cat "$art/key-export.err" >&2; die "key export failed"; }
grep -q "^AGE-SECRET-KEY-1" "$key" || die "key export wrote no age identity"
echo "an age identity ($(grep -c '^AGE-SECRET-KEY-1' "$key") key), not shown; deleted after the decryption check"
grep -rqs "AGE-SECRET-KEY" "$vault" && die "the secret key is in the vault directory: it must only be in Credential Manager"

step "assent record with the default settings (both sides: loopback of the default output)"
# ALSA's null device has no clock, so under Wine capture runs faster than
# real time and 6 s of wall time give more seconds of (silent) audio; on
# Windows the device is the clock.
# Consent is typed on stdin, which stays open while recording (its end
# would stop the recording); --duration ends it.
# PortAudio's device numbers are not stable: in a new Wine prefix the first
# listing can differ from later ones. So the number is looked up again right
# before recording, and looked up once more if it moved in between.
record() { # record NAME [ARGS...]: output in $art/NAME.txt and NAME.err
  local name="$1"; shift
  wasapi_in="$("$wine" "$exe" devices 2>/dev/null | grep -iE '^[* ]*[0-9]+ .*wasapi' | head -1 | sed 's/^[* ]*//' | awk '{ print $1 }')"
  local fifo="$WINBUILD/smoke-stdin" rc=0
  rm -f "$fifo"; mkfifo "$fifo"
  timeout 300 "$wine" "$exe" record --title "Windows smoke" --no-chime --duration 6s \
    ${wasapi_in:+--input "$wasapi_in"} "$@" --participant "Ana Silva <ana@example.com>" \
    <"$fifo" >"$art/$name.txt" 2>"$art/$name.err" &
  local rec=$!
  exec 7>"$fifo"
  printf 'I agree\nyes\n' >&7
  wait $rec || rc=$?
  exec 7>&-
  rm -f "$fifo"
  return $rc
}
# Nothing is recorded until the organisation's name and contact are set (no
# placeholder ever reaches a participant); this also writes %APPDATA%\Assent.
"$wine" "$exe" org set --controller "Acme Sales BV" --contact privacy@acme.example >"$art/org.txt" 2>&1 \
  || { cat "$art/org.txt" >&2; die "org set failed"; }
rc=0; record record-both || rc=$?
if [ "$rc" != 0 ] && grep -q "no input device number" "$art/record-both.err"; then
  rc=0; record record-both || rc=$?
fi
stereo=""
if [ "$rc" = 0 ]; then
  # Loopback works here (a newer Wine, or Windows): a two-channel recording.
  grep -q "agreed" "$art/record-both.txt" || die "record did not take the typed consent"
  stereo=1
  echo "recorded both sides (microphone left, what this computer plays right)"
else
  # Wine 8 has no WASAPI loopback: the rep must be told plainly that the
  # other side cannot be recorded and what to do, and nothing be recorded.
  cat "$art/record-both.err"
  grep -q "other side of the call cannot be recorded" "$art/record-both.err" \
    || die "record without call audio failed without saying that the other side cannot be recorded"
  grep -q -- "--call-input none" "$art/record-both.err" || die "the refusal does not say how to record the microphone alone"
  grep -q "Ana Silva" "$art/record-both.txt" && die "consent was asked although nothing could be recorded"
  [ -z "$(ls -A "$vault/recordings" 2>/dev/null)" ] || die "a refused recording left files in the vault"
  echo "refused in plain words (exit $rc), nothing recorded"
fi

step "assent record --call-input none (typed consent, 6 s, the microphone through the WASAPI input)"
rc=0; record record --call-input none || rc=$?
if [ "$rc" != 0 ] && grep -q "no input device number" "$art/record.err"; then
  echo "the WASAPI input moved ($(cat "$art/record.err")); looking it up again"
  rc=0; record record --call-input none || rc=$?
fi
if [ "$rc" != 0 ]; then cat "$art/record.txt" "$art/record.err" >&2; die "record exited with $rc"; fi
echo "recorded through input $wasapi_in (Windows WASAPI)"
grep -q "agreed" "$art/record.txt" || die "record did not take the typed consent"
cat "$art/record.txt" | grep -v '^$' | tail -8

step "assent list (shows the recording)"
run list list
cat "$art/list.txt"
grep -q "Windows smoke" "$art/list.txt" || die "list does not show the recording"
want=$(( ${stereo:-0} + 1 ))
[ "$(grep -c "Windows smoke" "$art/list.txt")" = "$want" ] || die "list shows $(grep -c "Windows smoke" "$art/list.txt") recordings, want $want"

step "the recording is sealed and encrypted"
segs=("$vault"/recordings/*/seg-*.age)
[ -f "${segs[0]}" ] || die "no sealed segment (seg-*.age) in $vault/recordings"
ls "$vault"/recordings/*/ | sed 's/^/  /'
for s in "${segs[@]}"; do
  head -c 21 "$s" | grep -q "^age-encryption.org/v1" || die "$s is not an age file"
  if grep -aq "OggS\|OpusHead" "$s"; then die "$s holds plaintext Ogg/Opus"; fi
done
ls "$vault"/recordings/*/*.part >/dev/null 2>&1 && die "an unsealed .part file was left behind"
echo "${#segs[@]} sealed segment(s), each an age file with no plaintext Ogg inside"
if command -v age >/dev/null 2>&1; then
  age -d -i "$key" "${segs[0]}" >"$WINBUILD/smoke-seg1.ogg" || die "the stock age CLI cannot decrypt the segment with the exported key"
  head -c 4 "$WINBUILD/smoke-seg1.ogg" | grep -q OggS || die "the decrypted segment is not Ogg"
  grep -aq OpusHead "$WINBUILD/smoke-seg1.ogg" || die "the decrypted first segment has no Opus header"
  echo "the stock age CLI decrypts segment 1 with the exported key: an Ogg Opus stream"
  rm -f "$WINBUILD/smoke-seg1.ogg"
  if [ -n "$stereo" ]; then
    two=""
    for s in "$vault"/recordings/*/seg-000001.age; do
      age -d -i "$key" "$s" >"$WINBUILD/smoke-seg1.ogg" || die "cannot decrypt $s"
      off=$(grep -abo OpusHead "$WINBUILD/smoke-seg1.ogg" | head -1 | cut -d: -f1)
      [ "$(od -An -tu1 -j $(( off + 9 )) -N1 "$WINBUILD/smoke-seg1.ogg" | tr -d ' ')" = 2 ] && two=1
      rm -f "$WINBUILD/smoke-seg1.ogg"
    done
    [ -n "$two" ] || die "the recording of both sides is not a two-channel Opus stream"
    echo "the recording of both sides is a two-channel Opus stream"
  fi
fi
rm -f "$key" # a test key, but a secret all the same: not left lying around

step "assent delete (the recordings and every file of them are gone)"
for id in $(awk '/Windows smoke/ { print $1 }' "$art/list.txt"); do
  run "delete-$id" delete --yes "$id"
  cat "$art/delete-$id.txt"
  [ -z "$(find "$vault" -name "*$id*")" ] || die "files of $id are left in the vault: $(find "$vault" -name "*$id*")"
done
run list-deleted list
grep -q "Windows smoke" "$art/list-deleted.txt" && die "list still shows a deleted recording"
[ -z "$(ls -A "$vault/recordings")" ] || die "files are left under the vault's recordings: $(ls -A "$vault/recordings")"
echo "deleted; list and %LOCALAPPDATA%\\Assent\\recordings show nothing of it"

step "the app window (no arguments) on a private X display"
if command -v Xvfb >/dev/null 2>&1 && command -v xdotool >/dev/null 2>&1 && command -v import >/dev/null 2>&1; then
  disp=":$(( 60 + RANDOM % 30 ))"
  Xvfb "$disp" -screen 0 1280x800x24 >/dev/null 2>&1 & xvfb=$!
  sleep 1
  ASSENT_WINE_DISPLAY="$disp" timeout 120 "$wine" "$exe" >"$art/app.txt" 2>&1 & app=$!
  found=""
  for _ in $(seq 90); do
    if DISPLAY="$disp" xdotool search --name '^Assent' >/dev/null 2>&1; then found=1; break; fi
    sleep 1
  done
  # Fyne draws a moment after the window maps.
  [ -z "$found" ] || { sleep 5; DISPLAY="$disp" import -window root "$art/app-window.png"; }
  kill "$app" 2>/dev/null || true; wait "$app" 2>/dev/null || true
  kill "$xvfb" 2>/dev/null || true; wait "$xvfb" 2>/dev/null || true
  [ -n "$found" ] || { cat "$art/app.txt" >&2; die "the app window did not open under Wine"; }
  echo "the app window opened; screenshot: artifacts/windows/app-window.png"
else
  echo "skipped: needs Xvfb, xdotool and ImageMagick (make test installs them)"
  [ "${CI:-}" != true ] || die "under CI the app window must be checked; install xvfb xdotool imagemagick"
fi

step "platform and keyring tests as Windows programs"
tests="$WINBUILD/tests"
mkdir -p "$tests"
GOOS=windows GOARCH=amd64 CGO_ENABLED=0 $GO test -c -o "$tests/platform.test.exe" ./internal/platform
GOOS=windows GOARCH=amd64 CGO_ENABLED=0 $GO test -c -o "$tests/vault.test.exe" ./vault
GOOS=windows GOARCH=amd64 CGO_ENABLED=0 $GO test -c -o "$tests/wasapi.test.exe" ./audio/wasapi
"$wine" "$tests/platform.test.exe" -test.v -test.count=1 2>&1 | tee "$art/platform-test.txt" | grep -E '^(--- |ok|PASS|FAIL)'
grep -q '^PASS' "$art/platform-test.txt" || die "internal/platform tests failed under Wine"
ASSENT_TEST_KEYRING=1 "$wine" "$tests/vault.test.exe" -test.v -test.count=1 \
  -test.run '^TestNeverPlaintextAtRest_KeysFitCredentialManager$' 2>&1 | tee "$art/keyring-test.txt" | grep -E '^(--- |ok|PASS|FAIL)|keyring_size'
grep -q '^PASS' "$art/keyring-test.txt" || die "the Credential Manager test failed under Wine"
# WASAPI loopback of the default output (call audio): Wine 8 has none, so
# this shows the COM path up to the refusal and the plain error.
"$wine" "$tests/wasapi.test.exe" -test.v -test.count=1 2>&1 | tee "$art/wasapi-test.txt" | grep -E '^(--- |ok|PASS|FAIL)|loopback (refused )?here|default output:'
grep -q '^PASS' "$art/wasapi-test.txt" || die "the WASAPI loopback tests failed under Wine"

step "passed in $(( $(date +%s) - start )) s"
