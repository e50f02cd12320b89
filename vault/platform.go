package vault

import "github.com/assent-app/assent/internal/platform"

// The vault's few system-specific operations, all from internal/platform.
// Every file the vault persists goes through rename and syncDir (never
// os.Rename directly; TestNothingLostOnCrash_VaultRenamesThroughPlatform checks), so Windows
// gets MoveFileEx with MOVEFILE_WRITE_THROUGH where Unix gets rename(2) and
// an fsync of the directory.

// rename replaces newpath by oldpath durably once syncDir of its directory
// returned (platform.Rename).
func rename(oldpath, newpath string) error { return platform.Rename(oldpath, newpath) }

// syncDir makes a create or rename in dir durable: fsync of the directory
// on Unix (filesystems that refuse it are tolerated); nothing on Windows,
// which cannot flush a directory and whose renames write through instead
// (platform.SyncDir).
func syncDir(dir string) error { return platform.SyncDir(dir) }

// removeAll removes a directory tree (platform.RemoveAll: os.RemoveAll, and
// on Windows file by file where that fails, as under Wine). Every removal of
// a recording's directory goes through it
// (TestDeleteMeansDelete_VaultRemovesThroughPlatform).
func removeAll(path string) error { return platform.RemoveAll(path) }

// tryLock takes an exclusive lock on path (created if needed) without
// waiting; held reports that another process holds it. The system drops
// the lock when its holder dies, so a held lock means a live writer
// (platform.TryLock: flock on Unix, LockFileEx on Windows).
func tryLock(path string) (unlock func(), held bool, err error) { return platform.TryLock(path) }

// diskFull recognises the system's own full-disk errors (on Windows
// ERROR_DISK_FULL and friends, which syscall.ENOSPC never matches).
func diskFull(err error) bool { return platform.IsDiskFull(err) }
