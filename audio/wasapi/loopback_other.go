//go:build !windows

package wasapi

import "time"

// Open returns ErrUnsupported off Windows.
func Open() (*Loopback, error) {
	return runLoopback(func() (endpoints, func(), error) { return nil, nil, ErrUnsupported }, time.Now)
}

// DefaultOutputName is "" off Windows.
func DefaultOutputName() string { return "" }
