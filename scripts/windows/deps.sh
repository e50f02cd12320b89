#!/usr/bin/env bash
# deps.sh — install what the Windows cross-build and its Wine smoke test need
# on Debian 12 / Ubuntu, and make Debian's source packages reachable.
#
#   - mingw-w64 (C cross compiler, windres), Wine (the smoke test), NSIS
#     (the installer), zip, and what unpacking and building the C libraries
#     needs (dpkg-dev, make);
#   - a deb-src entry mirroring the distribution's own apt source, so that
#     `apt-get source` can fetch libogg, opus, opusfile and portaudio19
#     (Debian ships no mingw builds of them; scripts/windows/libs.sh builds
#     them). The entry is written once, to its own file, and never edits the
#     existing sources.
#
# Idempotent: with everything present it only checks and exits.
set -euo pipefail

pkgs=(gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64 mingw-w64-tools wine wine64
  nsis zip unzip dpkg-dev make pkg-config)

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  echo "windows/deps.sh: this is not a Debian/Ubuntu system; install the equivalents of:" >&2
  printf '  %s\n' "${pkgs[@]}" >&2
  echo "and make the source packages libogg, opus, opusfile and portaudio19 available, then run make windows again." >&2
  exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "windows/deps.sh: need root to install packages and add a deb-src entry" >&2; exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive

# --- deb-src ------------------------------------------------------------
# Enough when apt already knows the source packages (from any entry).
have_src() {
  apt-cache showsrc portaudio19 2>/dev/null | grep -q '^Package:'
}
srcfile=/etc/apt/sources.list.d/assent-deb-src.sources
updated=""
if ! have_src; then
  tmp="$(mktemp)"
  # deb822 distribution files (debian.sources / ubuntu.sources): copy every
  # stanza whose Types has "deb", with Types: deb-src and the same URIs,
  # suites, components and key.
  for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list.d/ubuntu.sources; do
    [ -f "$f" ] || continue
    awk '
      function flush() { if (n > 0 && isdeb && !off) { for (i = 1; i <= n; i++) print lines[i]; print "" } n = 0; isdeb = 0; off = 0 }
      /^[[:space:]]*$/ { flush(); next }
      /^[[:space:]]*#/ { next }
      /^Types:/ { if ($0 ~ /[[:space:]]deb([[:space:]]|$)/) isdeb = 1; lines[++n] = "Types: deb-src"; next }
      /^Enabled:[[:space:]]*no/ { off = 1 }
      { lines[++n] = $0 }
      END { flush() }' "$f" >>"$tmp"
  done
  # One-line format (/etc/apt/sources.list): "deb URL suite comp..." -> "deb-src ...".
  if [ ! -s "$tmp" ] && [ -f /etc/apt/sources.list ]; then
    # Convert one-line entries to deb822 stanzas.
    awk '/^[[:space:]]*deb[[:space:]]/ {
        opts = ""; i = 2
        if ($2 ~ /^\[/) { while ($i !~ /\]$/) { opts = opts " " $i; i++ } opts = opts " " $i; i++ }
        uri = $i; suite = $(i + 1); comps = ""
        for (j = i + 2; j <= NF; j++) comps = comps (comps == "" ? "" : " ") $j
        printf "Types: deb-src\nURIs: %s\nSuites: %s\nComponents: %s\n", uri, suite, comps
        if (opts ~ /signed-by=/) { match(opts, /signed-by=[^] ]+/); printf "Signed-By: %s\n", substr(opts, RSTART + 10, RLENGTH - 10) }
        print "" }' /etc/apt/sources.list >>"$tmp"
  fi
  if [ ! -s "$tmp" ]; then
    rm -f "$tmp"
    echo "windows/deps.sh: found no Debian/Ubuntu apt source to mirror as deb-src; add a deb-src entry for your distribution and run again" >&2
    exit 1
  fi
  echo "windows/deps.sh: adding $srcfile (deb-src mirroring the existing apt source)"
  $SUDO install -m 644 "$tmp" "$srcfile"
  rm -f "$tmp"
  $SUDO apt-get update -qq
  updated=1
fi

# --- packages -----------------------------------------------------------
missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "windows/deps.sh: installing ${missing[*]}"
  [ -n "$updated" ] || $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
