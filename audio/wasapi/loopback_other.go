//go:build !windows

package wasapi

// Loopback is the WASAPI loopback capture; off Windows it cannot be opened.
type Loopback struct{}

// Open returns ErrUnsupported off Windows.
func Open() (*Loopback, error) { return nil, ErrUnsupported }

func (*Loopback) Channels() int            { return 1 }
func (*Loopback) Start() error             { return ErrUnsupported }
func (*Loopback) Read(buf []float32) error { return ErrUnsupported }
func (*Loopback) Close() error             { return nil }
