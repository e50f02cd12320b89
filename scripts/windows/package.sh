#!/usr/bin/env bash
# package.sh — the Windows packages of bin/assent.exe (make package-windows):
#   bin/Assent-VERSION-windows-amd64.zip   assent.exe, assent.ico, README.txt
#   bin/Assent-VERSION-setup.exe           a per-user NSIS installer
# Both are ready to be signed (signtool or osslsigncode, with the
# organisation's code-signing certificate: sign assent.exe before packaging
# and the setup exe after). The test-only Wine stand-in
# (bcryptprimitives.dll) is never included; this script checks it.
# The installer is then installed silently under Wine and the installed
# assent.exe must run.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$(pwd)"
export WINBUILD="${WINBUILD:-$root/build/windows}"
GO="${GO:-go}"
exe=bin/assent.exe
[ -f "$exe" ] || { echo "package-windows: $exe is missing; run make windows" >&2; exit 1; }
version="$($GO run ./scripts/windows/winres -toml FyneApp.toml -out "$WINBUILD/res")"
stage="$WINBUILD/pkg/Assent"
rm -rf "$WINBUILD/pkg"
mkdir -p "$stage"
cp "$exe" "$stage/assent.exe"
cp "$WINBUILD/res/assent.ico" "$stage/assent.ico"
sed 's/$/\r/' >"$stage/README.txt" <<TXT
Assent $version for Windows 10 and 11 (64-bit)

Assent records a call only while everyone on it has agreed.

- Start "Assent" from the Start menu (or double-click assent.exe) for the app.
- In a terminal: assent help, assent devices, assent record, assent list.
- Recordings (encrypted): %LOCALAPPDATA%\\Assent
- Settings: %APPDATA%\\Assent\\config.json
- Keys: Windows Credential Manager (generic credentials "app.assent.recorder:...").
  Back up your key with: assent key export > key.txt  (keep it safe).
- Uninstalling removes the program only, never your recordings or keys.
TXT
zip="bin/Assent-$version-windows-amd64.zip"
rm -f "$zip"
(cd "$WINBUILD/pkg" && zip -q -X -r "$root/$zip" Assent)
if unzip -l "$zip" | grep -qi '\.dll'; then
  echo "package-windows: $zip contains a DLL; only assent.exe may ship" >&2; exit 1
fi
echo "package-windows: $zip ($(( $(stat -c %s "$zip") / 1024 / 1024 )) MB)"

setup="bin/Assent-$version-setup.exe"
makensis -V2 -DVERSION="$version" -DSRC="$stage" -DOUT="$root/$setup" scripts/windows/assent.nsi
echo "package-windows: $setup ($(( $(stat -c %s "$setup") / 1024 / 1024 )) MB)"

# Install silently under Wine and run the installed program.
"$root/scripts/windows/wine.sh" "$setup" /S
user="$(ls "$WINBUILD/wine/drive_c/users" | grep -vx Public | head -1)"
installed="$WINBUILD/wine/drive_c/users/$user/AppData/Local/Programs/Assent/assent.exe"
[ -f "$installed" ] || { echo "package-windows: the installer did not install $installed" >&2; exit 1; }
out="$("$root/scripts/windows/wine.sh" "$installed" version)"
[ "$out" = "assent $version" ] || { echo "package-windows: the installed assent.exe printed '$out', want 'assent $version'" >&2; exit 1; }
"$root/scripts/windows/wine.sh" "$(dirname "$installed")/uninstall.exe" /S
echo "package-windows: the installer installs, runs ($out) and uninstalls under Wine"
