#!/usr/bin/env bash
# build.sh — cross-build bin/assent.exe (Windows x86-64, cgo) on Debian:
#   1. scripts/windows/deps.sh  mingw-w64, Wine, NSIS…, a deb-src entry
#   2. scripts/windows/libs.sh  static libogg, opus, opusfile, PortAudio
#                               (WMME + WASAPI) under build/windows/prefix
#   3. the icon, version resource and manifest from FyneApp.toml
#      (scripts/windows/winres + mingw-w64's windres) as a .syso object
#   4. go build with mingw-w64 and a pkg-config wrapper that links the static
#      libraries, so the exe needs only DLLs every Windows has; checked.
# Cold (empty Go cache) the go build takes several minutes (cgo of Fyne's
# OpenGL bindings); afterwards seconds.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$(pwd)"
export WINBUILD="${WINBUILD:-$root/build/windows}"
GO="${GO:-go}"
out="${OUT:-bin/assent.exe}"
step() { printf 'windows: %s (%s)\n' "$*" "$(date +%H:%M:%S)"; }

step "system packages"
scripts/windows/deps.sh
step "static C libraries"
scripts/windows/libs.sh

step "resources"
res="$WINBUILD/res"
version="$($GO run ./scripts/windows/winres -toml FyneApp.toml -out "$res")"
syso="$root/rsrc_windows_amd64.syso"
trap 'rm -f "$syso"' EXIT
(cd "$res" && x86_64-w64-mingw32-windres -O coff -i assent.rc -o "$syso")

step "go build $out (assent $version)"
# Go's build cache keys a cgo package on the pkg-config command, not on what
# it printed: a package compiled in another checkout keeps that checkout's
# -L path in its link flags (a fresh clone in another folder then fails to
# find -lportaudio). The linker is always run, so the prefix is also given
# to it directly.
start=$(date +%s)
mkdir -p "$(dirname "$out")"
CGO_ENABLED=1 GOOS=windows GOARCH=amd64 \
  CC=x86_64-w64-mingw32-gcc CXX=x86_64-w64-mingw32-g++ \
  ASSENT_WIN_PREFIX="$WINBUILD/prefix" PKG_CONFIG="$root/scripts/windows/pkg-config" \
  $GO build -ldflags "-s -w -X github.com/assent-app/assent/cli.Version=$version -extldflags '-L$WINBUILD/prefix/lib'" -o "$out" .
rm -f "$syso"
echo "windows: built $out in $(( $(date +%s) - start )) s, $(( $(stat -c %s "$out") / 1024 / 1024 )) MB"

# Only DLLs that every Windows 10/11 has: a DLL from the build machine
# (libwinpthread, libgcc, a dynamic PortAudio…) would make the exe fail to
# start on a rep's laptop.
step "check imported DLLs"
allowed=' advapi32.dll bcrypt.dll bcryptprimitives.dll comctl32.dll comdlg32.dll crypt32.dll dwmapi.dll gdi32.dll imm32.dll kernel32.dll msvcrt.dll ntdll.dll ole32.dll oleaut32.dll opengl32.dll powrprof.dll setupapi.dll shell32.dll shlwapi.dll user32.dll userenv.dll uxtheme.dll version.dll winmm.dll winspool.drv ws2_32.dll '
bad=""
dlls=""
for dll in $(x86_64-w64-mingw32-objdump -p "$out" | awk '/DLL Name:/ { print tolower($3) }' | sort -u); do
  dlls="$dlls $dll"
  case "$allowed" in *" $dll "*) ;; *) bad="$bad $dll" ;; esac
done
echo "windows: imports$dlls"
if [ -n "$bad" ]; then
  echo "windows: $out imports DLLs that are not part of Windows:$bad — link them statically (scripts/windows/pkg-config)" >&2
  exit 1
fi
