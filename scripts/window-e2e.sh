#!/usr/bin/env bash
# window-e2e.sh — the real app binary in a real X window (Xvfb), real backend,
# real sound server and keyring, driven with xdotool at the positions the
# app's automation hook (ASSENT_AUTOMATION) reports. Asserts on what the app
# wrote: the recording exists, its audio holds the speech that was played,
# its consent record verifies. Screenshots: artifacts/screenshots/window-*.png
# Run through scripts/with-real-parts.sh (scripts/e2e.sh calls it).
set -uo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
BIN="${BIN:-$root/bin/assent}"
SHOTS="$root/artifacts/screenshots"; mkdir -p "$SHOTS"
work="$(mktemp -d /tmp/assent-win.XXXXXX)"
export ASSENT_HOME="$work/vault" ASSENT_CONFIG="$work/config.json" ASSENT_AUTOMATION="$work/auto.json"
echo '{"org":{"controller":"Acme Sales BV","contact":"privacy@acme.example"},"chime":false}' > "$ASSENT_CONFIG"
pass=0 failn=0 app=""
ok() { echo "window: ok   - $*"; pass=$((pass + 1)); }
bad() { echo "window: FAIL - $*"; failn=$((failn + 1)); }
cleanup() { [ -n "$app" ] && kill "$app" 2>/dev/null; cp "$ASSENT_AUTOMATION" "$root/artifacts/window-automation.json" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
[ -n "${DISPLAY:-}" ] || { echo "window: no DISPLAY (run via scripts/with-real-parts.sh)"; exit 1; }

# el NAME FIELD — a field of a named element from the automation file
el() { python3 -c "import json,sys; d=json.load(open('$ASSENT_AUTOMATION')); print(d['elements']['$1']['$2'])" 2>/dev/null; }
screen() { python3 -c "import json; print(json.load(open('$ASSENT_AUTOMATION'))['screen'])" 2>/dev/null; }
wait_screen() { for _ in $(seq $(( ${2:-20} * 10 ))); do [ "$(screen)" = "$1" ] && return 0; sleep 0.1; done; return 1; }
click() {
  local cx cy
  cx=$(el "$1" CX); cy=$(el "$1" CY)
  [ -n "$cx" ] || { bad "no element $1 on screen $(screen)"; return 1; }
  eval "$(xdotool search --name 'Assent' getwindowgeometry --shell 2>/dev/null | head -4)"
  xdotool mousemove $(( ${X:-0} + cx )) $(( ${Y:-0} + cy )); sleep 0.2; xdotool click 1; sleep 0.4
}
shot() { import -window root "$SHOTS/window-$1.png" 2>/dev/null; }

espeak-ng -s 140 -w "$work/speech.wav" "Hello, this is the desktop window test. Everyone agreed, so the call is being recorded." 2>/dev/null
sox "$work/speech.wav" -r 48000 -c 1 -b 16 "$work/speech48.wav"

t0=$(date +%s.%N)
"$BIN" > "$work/app.log" 2>&1 & app=$!
if wait_screen first-run 30; then
  t1=$(date +%s.%N)
  ok "the window opened on the first-run screen ($(python3 -c "print(f'{$t1-$t0:.2f}')") s to the first automation snapshot)"
else bad "no first-run screen: $(tail -3 "$work/app.log")"; fi
sleep 1; shot 01-first-run
click continue
wait_screen new-call 10 && ok "new call screen" || bad "no new-call screen (on $(screen))"
click title && xdotool type --delay 20 "Window test call"
click participant-0-name && xdotool type --delay 20 "Alice Host"
click add-participant
sleep 0.5
click participant-1-name && xdotool type --delay 20 "Bob Buyer"
sleep 0.5; shot 02-new-call
click ask-consent
if wait_screen consent 10; then ok "consent screen"; else bad "no consent screen (on $(screen)): $(tail -3 "$work/app.log")"; fi
sleep 0.5; shot 03-consent
sleep 1.5; click age; sleep 0.3; click agree
sleep 1
[ "$(screen)" = consent ] && ok "still asking: Bob has not agreed yet" || bad "left the consent screen after one of two agreed (on $(screen))"
shot 03b-consent-bob
# Bob's screen is built after Alice's answer; a click that lands while it is rebuilt is lost
# (and a second click on the age box would untick it), so up to three rounds.
for i in 1 2 3; do
  [ "$(screen)" = recording ] && break
  sleep 1.5; click age; sleep 0.3; click agree
  wait_screen recording 5 && break
done
if wait_screen recording 5; then ok "recording screen after both participants agreed"; else bad "no recording screen (on $(screen))"; fi
sleep 2.5
paplay -d callsink "$work/speech48.wav"
sleep 0.5; shot 04-recording
click stop
sleep 2
# the stop may ask for confirmation in some builds: accept if the screen did not change
wait_screen library 10 || true
sleep 1; shot 05-after-stop
kill "$app" 2>/dev/null; wait "$app" 2>/dev/null; app=""

"$BIN" list > "$work/list.txt" 2>&1
id=$(awk '/Window test call/ {print $1}' "$work/list.txt")
if [ -n "$id" ]; then ok "the recording exists in the vault ($id)"; else bad "no recording: $(cat "$work/list.txt")"; fi
if [ -n "$id" ]; then
  "$BIN" verify "$id" > "$work/verify.txt" 2>&1 && ok "its consent record verifies: $(head -1 "$work/verify.txt")" || bad "verify: $(cat "$work/verify.txt")"
  # make test runs this against the -race binary (Fyne is compiled once, with -race); its
  # instrumented UI loop costs enough CPU on 2 cores that some capture buffers overflow,
  # so the bar here is 0.6 (measured 0.77 with -race, 0.96 without). The 0.9 bar on the
  # recording path itself is held by scripts/e2e.sh's `assent record` run.
  "$BIN" export "$id" --out "$work/exp" > /dev/null 2>&1
  ffmpeg -v error -y -i "$(ls "$work"/exp/*.opus | head -1)" -ac 1 -ar 48000 -c:a pcm_s16le "$work/rec.wav"
  go run ./scripts/audiocheck corr "$work/speech48.wav" "$work/rec.wav" "${WINDOW_MIN_CORR:-0.6}" > "$work/corr.txt" 2>&1 \
    && ok "the recorded audio holds the speech: $(cat "$work/corr.txt")" || bad "audio: $(cat "$work/corr.txt")"
fi
echo "window: $pass passed, $failn failed"
[ "$failn" = 0 ]
