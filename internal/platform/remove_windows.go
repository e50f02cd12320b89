//go:build windows

package platform

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// RemoveAll removes path and everything under it. It tries os.RemoveAll
// first. Since Go 1.25 that deletes each file by NtSetInformationFile with
// FileDispositionInformationEx (POSIX semantics) and falls back to the old
// way only for the statuses Windows itself answers; Wine 8 answers
// STATUS_NOT_IMPLEMENTED ("Invalid function"), so os.RemoveAll fails there
// and a recording could not be deleted (found by make windows-smoke). What
// is left is then removed file by file with DeleteFile and RemoveDirectory
// (os.Remove), which every Windows and Wine has.
//
// Windows cannot delete a file that another handle opened without
// FILE_SHARE_DELETE: callers close their own handles first (the vault
// closes a recording's files and drops its lock before deleting it).
func RemoveAll(path string) error {
	err := os.RemoveAll(path)
	if err == nil {
		return nil
	}
	if ferr := removeTree(path); ferr != nil {
		return errors.Join(err, ferr)
	}
	return nil
}

// removeTree removes path, depth first, with os.Remove.
func removeTree(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir() && fi.Mode()&fs.ModeSymlink == 0 {
		entries, err := os.ReadDir(path)
		if err != nil {
			return err
		}
		var errs []error
		for _, e := range entries {
			errs = append(errs, removeTree(filepath.Join(path, e.Name())))
		}
		if err := errors.Join(errs...); err != nil {
			return err
		}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
