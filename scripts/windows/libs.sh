#!/usr/bin/env bash
# libs.sh — build static mingw-w64 (x86_64) libraries of libogg, opus,
# opusfile and PortAudio (WMME + WASAPI) from Debian's source packages, into
# $WINBUILD/prefix (default build/windows/prefix, gitignored).
#
# Each library is rebuilt only when its Debian source version or this script
# changed (a stamp file per library records both), so a second `make windows`
# spends no time here. Needs scripts/windows/deps.sh first (mingw-w64, a
# deb-src entry, dpkg-dev).
set -euo pipefail
self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$0")/../.."
root="$(pwd)"
WINBUILD="${WINBUILD:-$root/build/windows}"
HOST=x86_64-w64-mingw32
prefix="$WINBUILD/prefix"
src="$WINBUILD/src"
logs="$WINBUILD/logs"
mkdir -p "$prefix" "$src" "$logs"
# Rebuild everything when this script changes (flags, patches).
script_sum="$(sha256sum "$self" | cut -c1-12)"
jobs="${JOBS:-$(nproc)}"

# The version apt would fetch for a source package (e.g. 1.3.5-3).
srcversion() {
  apt-cache showsrc "$1" 2>/dev/null | awk '/^Version:/ { print $2; exit }'
}

# fetch PKG: download and unpack PKG's Debian source (with Debian's patches)
# into $src/PKG-VERSION and print that directory.
fetch() {
  local pkg="$1" ver dir
  ver="$(srcversion "$pkg")"
  if [ -z "$ver" ]; then
    echo "windows/libs.sh: apt knows no source package $pkg; run scripts/windows/deps.sh (it adds the deb-src entry)" >&2
    return 1
  fi
  dir="$src/$pkg-$ver"
  if [ ! -f "$dir/.unpacked" ]; then
    rm -rf "$dir"
    (cd "$src" && apt-get source --download-only "$pkg=$ver" >"$logs/$pkg.fetch.log" 2>&1 &&
      dpkg-source -x "$(ls -t "${pkg}_"*.dsc | head -1)" "$dir" >>"$logs/$pkg.fetch.log" 2>&1) || {
      echo "windows/libs.sh: could not fetch the source of $pkg (see $logs/$pkg.fetch.log)" >&2
      return 1
    }
    touch "$dir/.unpacked"
  fi
  echo "$dir"
}

# build NAME PKG CONFIGURE-ARGS...: configure, make, install into $prefix
# unless the stamp says this version was built by this script already.
build() {
  local name="$1" pkg="$2"; shift 2
  local ver stamp dir start
  ver="$(srcversion "$pkg")"
  stamp="$prefix/.built-$name-$ver-$script_sum"
  if [ -f "$stamp" ]; then
    return 0
  fi
  start=$(date +%s)
  dir="$(fetch "$pkg")"
  if declare -F "prepare_$name" >/dev/null; then "prepare_$name" "$dir"; fi
  (
    cd "$dir"
    # Out of a previous, failed attempt.
    [ ! -f Makefile ] || make distclean >/dev/null 2>&1 || true
    PKG_CONFIG_LIBDIR="$prefix/lib/pkgconfig" PKG_CONFIG_PATH="" \
      ./configure --host=$HOST --prefix="$prefix" --enable-static --disable-shared "$@"
    make -j"$jobs"
    make install
  ) >"$logs/$name.build.log" 2>&1 || {
    echo "windows/libs.sh: building $name failed; the last lines of $logs/$name.build.log:" >&2
    tail -20 "$logs/$name.build.log" >&2
    return 1
  }
  rm -f "$prefix/.built-$name-"*
  touch "$stamp"
  echo "windows/libs.sh: built $name $ver in $(( $(date +%s) - start )) s"
}

# PortAudio 19.6.0's WASAPI code includes the Windows SDK headers only for
# MSVC and otherwise falls back to old copies bundled in
# src/hostapi/wasapi/mingw-include, which clash with mingw-w64 10. Make the
# MSVC branch cover mingw-w64 too (so mingw-w64's own avrt.h, audioclient.h
# and functiondiscoverykeys_devpkey.h are used) and drop the bundled copies
# from the include path. Each edit is checked, so a new upstream version
# that no longer needs it fails here loudly instead of building something else.
prepare_portaudio() {
  local d="$1" c="$1/src/hostapi/wasapi/pa_win_wasapi.c"
  [ ! -f "$d/.assent-prepared" ] || return 0
  sed -i 's|^#if defined(_MSC_VER) && (_MSC_VER >= 1400)$|#if (defined(_MSC_VER) \&\& (_MSC_VER >= 1400)) \|\| defined(__MINGW64_VERSION_MAJOR)|; s|<Avrt.h>|<avrt.h>|; s|<Audioclient.h>|<audioclient.h>|' "$c"
  # functiondiscoverykeys.h and _devpkey.h share one include guard in
  # mingw-w64; the first (the one holding PKEY_Device_FriendlyName) is wanted.
  sed -i '0,/^\t#include <functiondiscoverykeys.h>/s||\t#include <functiondiscoverykeys_devpkey.h>|' "$c"
  sed -i 's| -I\\$(top_srcdir)/src/hostapi/wasapi/mingw-include||' "$d/configure"
  if ! grep -q 'defined(__MINGW64_VERSION_MAJOR)$' "$c" || ! grep -q '<functiondiscoverykeys_devpkey.h>' "$c" ||
    ! grep -q '<audioclient.h>' "$c" || grep -q 'wasapi/mingw-include' "$d/configure"; then
    echo "windows/libs.sh: the PortAudio source in $d is not the one these header fixes were made for; update prepare_portaudio" >&2
    return 1
  fi
  touch "$d/.assent-prepared"
}

build ogg libogg
# _FORTIFY_SOURCE (on by default in Debian's gcc flags) makes opus call
# __memcpy_chk, which mingw-w64's runtime does not have.
build opus opus CFLAGS="-O2 -g -D_FORTIFY_SOURCE=0" --disable-doc --disable-extra-programs
build opusfile opusfile --disable-http --disable-doc --disable-examples
build portaudio portaudio19 --with-winapi=wmme,wasapi

# Only the static archives are wanted: a stray import library would make the
# exe depend on a DLL that Windows does not have.
if ls "$prefix"/lib/*.dll.a >/dev/null 2>&1; then
  echo "windows/libs.sh: found import libraries in $prefix/lib; delete $WINBUILD and run again" >&2
  exit 1
fi
