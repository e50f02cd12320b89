//go:build !windows

package platform

import (
	"errors"
	"os"
	"syscall"
)

// Rename replaces newpath by oldpath atomically (rename(2)). Follow it with
// [SyncDir] on the directory to make the new name durable.
func Rename(oldpath, newpath string) error { return os.Rename(oldpath, newpath) }

// SyncDir fsyncs a directory so that a create or rename in it is durable.
// Filesystems that refuse fsync on a directory (EINVAL, ENOTSUP: some FUSE
// and network filesystems) give nil: there nothing more can be done.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP) {
		return nil
	}
	return err
}
