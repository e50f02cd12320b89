//go:build !windows

package platform

import (
	"errors"
	"syscall"
)

// IsDiskFull reports whether err means the disk (or the user's quota) is
// full: ENOSPC or EDQUOT.
func IsDiskFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}
