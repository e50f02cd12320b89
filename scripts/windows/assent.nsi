; assent.nsi — the Windows installer of Assent (NSIS, from Debian's nsis).
; Built by scripts/windows/package.sh: makensis -DVERSION=x.y.z -DSRC=<dir>
; -DOUT=<file> assent.nsi. Installs for the current user only (no
; administrator rights): %LOCALAPPDATA%\Programs\Assent, a Start menu entry,
; and an uninstaller listed in Settings > Apps. Uninstalling removes the
; program, never the recordings (%LOCALAPPDATA%\Assent) or the keys in
; Credential Manager: those are deleted from inside Assent.
; A 64-bit installer for a 64-bit program (and Wine without 32-bit support runs it).
Target amd64-unicode
!include "MUI2.nsh"

Name "Assent"
OutFile "${OUT}"
InstallDir "$LOCALAPPDATA\Programs\Assent"
InstallDirRegKey HKCU "Software\Assent" "InstallDir"
RequestExecutionLevel user
SetCompressor /SOLID lzma
VIProductVersion "${VERSION}.0"
VIAddVersionKey "ProductName" "Assent"
VIAddVersionKey "FileDescription" "Assent call recorder installer"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "LegalCopyright" "Assent"

!define MUI_ICON "${SRC}\assent.ico"
!define MUI_UNICON "${SRC}\assent.ico"
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

!define UNINST "Software\Microsoft\Windows\CurrentVersion\Uninstall\Assent"

Section "Assent"
  SetOutPath "$INSTDIR"
  File "${SRC}\assent.exe"
  File "${SRC}\assent.ico"
  File "${SRC}\README.txt"
  WriteUninstaller "$INSTDIR\uninstall.exe"
  CreateShortcut "$SMPROGRAMS\Assent.lnk" "$INSTDIR\assent.exe" "" "$INSTDIR\assent.exe" 0
  WriteRegStr HKCU "Software\Assent" "InstallDir" "$INSTDIR"
  WriteRegStr HKCU "${UNINST}" "DisplayName" "Assent"
  WriteRegStr HKCU "${UNINST}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINST}" "DisplayIcon" "$INSTDIR\assent.exe"
  WriteRegStr HKCU "${UNINST}" "Publisher" "Assent"
  WriteRegStr HKCU "${UNINST}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKCU "${UNINST}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKCU "${UNINST}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINST}" "NoRepair" 1
SectionEnd

Section "Uninstall"
  Delete "$SMPROGRAMS\Assent.lnk"
  Delete "$INSTDIR\assent.exe"
  Delete "$INSTDIR\assent.ico"
  Delete "$INSTDIR\README.txt"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  DeleteRegKey HKCU "${UNINST}"
  DeleteRegKey HKCU "Software\Assent"
SectionEnd
