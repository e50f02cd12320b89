package platform_test

import (
	"errors"
	"os"
	"runtime"
	"syscall"
	"testing"

	"github.com/assent-app/assent/internal/platform"
)

// TestNothingLostOnCrash_DiskFullRecognised: the errors this system gives
// for a full disk are recognised (the vault then says "the disk is full;
// free some space"), wrapped as the os package wraps them; others are not.
func TestNothingLostOnCrash_DiskFullRecognised(t *testing.T) {
	full := []syscall.Errno{syscall.ENOSPC}
	if runtime.GOOS == "windows" {
		full = []syscall.Errno{112, 39, 1295, 1816} // ERROR_DISK_FULL, _HANDLE_DISK_FULL, _DISK_QUOTA_EXCEEDED, _NOT_ENOUGH_QUOTA
	}
	for _, e := range full {
		err := &os.PathError{Op: "write", Path: "seg-000001.age.part", Err: e}
		if !platform.IsDiskFull(err) {
			t.Errorf("%v (errno %d) not recognised as a full disk", err, uintptr(e))
		}
	}
	for _, err := range []error{os.ErrPermission, errors.New("disk full"), &os.PathError{Op: "write", Path: "x", Err: syscall.Errno(5)}} {
		if platform.IsDiskFull(err) {
			t.Errorf("%v taken for a full disk", err)
		}
	}
}
