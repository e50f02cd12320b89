//go:build !unix

package vault

// tryLock is a no-op where flock is unavailable: there a vault must not be
// opened by two processes at once (the app is single-instance).
func tryLock(path string) (unlock func(), held bool, err error) {
	return func() {}, false, nil
}
