//go:build !unix && !windows

package platform

// TryLock is a no-op where the system has no file locks (js, wasip1,
// plan9): there a vault must not be opened by two processes at once.
func TryLock(path string) (unlock func(), held bool, err error) {
	return func() {}, false, nil
}
