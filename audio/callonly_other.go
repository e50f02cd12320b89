//go:build !linux

package audio

import "context"

// Recording only the call application's sound needs PulseAudio or
// PipeWire (callonly_linux.go); elsewhere it is refused in plain words.

type callRouter struct{ app string }

func newCallRouter(context.Context, string) (*callRouter, error) {
	return nil, callOnlyErr("it needs PulseAudio or PipeWire")
}

func (r *callRouter) refresh(context.Context) error { return nil }
func (r *callRouter) close() error                  { return nil } // nil-safe
func (r *callRouter) sinkName() string              { return "" }

// CleanupCallRouting has nothing to clean where call-only routing is not
// built.
func CleanupCallRouting(context.Context) error { return nil }
