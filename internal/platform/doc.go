// Package platform is everything Assent does differently per operating
// system, behind build tags, with one small interface:
//
//   - Paths: [ConfigDir] (settings) and [DataDir] (the encrypted vault).
//     Linux and BSD follow the XDG base directories, Windows uses
//     %APPDATA%\Assent and %LOCALAPPDATA%\Assent, macOS
//     ~/Library/Application Support/Assent.
//   - Hints: [KeyringFix], [SoundFix], [NoInputFix] say what to do on this
//     system when the keyring, the sound system or a microphone is missing.
//   - Durable writes: [Rename] replaces a file so that the new name survives
//     a power cut once it returns, and [SyncDir] makes a create or rename in
//     a directory durable where the system can (fsync of the directory on
//     Unix; on Windows a directory cannot be flushed, so [Rename] writes
//     through instead, see durable_windows.go). A file's own data is made
//     durable with (*os.File).Sync everywhere: fsync on Unix,
//     FlushFileBuffers on Windows.
//   - Removal: [RemoveAll] removes a directory tree; on Windows it finishes
//     file by file where os.RemoveAll fails (Wine 8: "Invalid function").
//   - Full disk: [IsDiskFull] knows each system's errors for it.
//   - Locks: [TryLock] takes an exclusive lock that other processes see and
//     that the system drops when its holder dies (flock on Unix, LockFileEx
//     on Windows).
//
// Call audio differs per system too (monitor source on Linux, WASAPI
// loopback on Windows: audio/callaudio_windows.go and package audio/wasapi;
// docs/platforms.md).
//
// Notifications need nothing here: Fyne's SendNotification uses each
// system's own (D-Bus on Linux, toast on Windows, UserNotifications on
// macOS).
//
// The package never logs and holds no state.
package platform
