//go:build !windows

package platform

import "os"

// RemoveAll removes path and everything under it, as os.RemoveAll; see the
// Windows version for why it is here.
func RemoveAll(path string) error { return os.RemoveAll(path) }
