//go:build windows

package platform

import (
	"fmt"
	"os"

	"golang.org/x/sys/windows"
)

// Rename replaces newpath by oldpath with MoveFileEx(MOVEFILE_REPLACE_EXISTING
// | MOVEFILE_WRITE_THROUGH): the call returns only once the move reached the
// disk, which is what fsync of the directory gives on Unix. The file's own
// data must have been flushed before ((*os.File).Sync is FlushFileBuffers).
func Rename(oldpath, newpath string) error {
	from, err := windows.UTF16PtrFromString(oldpath)
	if err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	to, err := windows.UTF16PtrFromString(newpath)
	if err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	if err := windows.MoveFileEx(from, to, windows.MOVEFILE_REPLACE_EXISTING|windows.MOVEFILE_WRITE_THROUGH); err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	return nil
}

// SyncDir does nothing on Windows, on purpose. Windows cannot flush a
// directory: FlushFileBuffers on a directory handle answers
// ERROR_ACCESS_DENIED (the handle would need write access to the volume,
// which only an administrator has). What fsync of a directory buys on Unix
// is had otherwise: a rename is durable when [Rename] returns (write
// through), and NTFS journals the creation of a file and a directory, so a
// file flushed with FlushFileBuffers is found again after a power cut.
//
// It still checks that dir is an existing directory, so that a caller that
// passes a wrong path learns it as on Unix.
func SyncDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return &os.PathError{Op: "sync", Path: dir, Err: fmt.Errorf("not a directory")}
	}
	return nil
}
