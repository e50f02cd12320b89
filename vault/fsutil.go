package vault

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// ErrDiskFull is matched (errors.Is) by errors caused by a full disk.
var ErrDiskFull = errors.New("the disk is full")

// diskErr turns ENOSPC/EDQUOT into an error matching ErrDiskFull that also
// still matches the original error.
func diskErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) || diskFull(err) {
		return &diskFullError{op: op, err: err}
	}
	return err
}

type diskFullError struct {
	op  string
	err error
}

func (e *diskFullError) Error() string {
	return fmt.Sprintf("vault: %s: the disk is full; free some space and try again (%v)", e.op, e.err)
}
func (e *diskFullError) Unwrap() []error { return []error{ErrDiskFull, e.err} }

// writeAtomic writes data to path via path.part: write, fsync, close,
// rename, fsync the directory. A crash leaves either the old or the new file.
func writeAtomic(path string, data []byte, perm os.FileMode) error {
	part := path + ".part"
	f, err := os.OpenFile(part, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return diskErr("write "+filepath.Base(path), err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = rename(part, path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	if err != nil {
		os.Remove(part)
		return diskErr("write "+filepath.Base(path), err)
	}
	return nil
}
