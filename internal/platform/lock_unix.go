//go:build unix

package platform

import (
	"errors"
	"os"
	"syscall"
)

// TryLock takes an exclusive lock on path (created if needed) without
// waiting. held reports that another process holds it. The kernel releases
// the lock when the holder dies, even by SIGKILL, so a held lock means a
// live holder. unlock releases it.
func TryLock(path string) (unlock func(), held bool, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, false, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, true, nil
		}
		return nil, false, err
	}
	return func() { f.Close() }, false, nil
}
