//go:build windows

package platform

import (
	"errors"

	"golang.org/x/sys/windows"
)

// IsDiskFull reports whether err means the disk (or the user's quota) is
// full: ERROR_DISK_FULL, ERROR_HANDLE_DISK_FULL or a quota error. Go's
// syscall.ENOSPC never matches on Windows, so the Unix test alone would miss
// them and a rep would read a raw Windows error instead of "the disk is full".
func IsDiskFull(err error) bool {
	return errors.Is(err, windows.ERROR_DISK_FULL) || errors.Is(err, windows.ERROR_HANDLE_DISK_FULL) ||
		errors.Is(err, windows.ERROR_DISK_QUOTA_EXCEEDED) || errors.Is(err, windows.ERROR_NOT_ENOUGH_QUOTA)
}
