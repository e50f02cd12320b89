package audio

import (
	"errors"
	"strings"
	"testing"
)

// constInput is an extInput that delivers one level, then fails if told.
type constInput struct {
	v       float32
	reads   int
	failAt  int
	started bool
	closed  bool
}

func (c *constInput) Start() error { c.started = true; return nil }
func (c *constInput) Close() error { c.closed = true; return nil }
func (c *constInput) Read(buf []float32) error {
	c.reads++
	if c.failAt > 0 && c.reads >= c.failAt {
		return errors.New("the output device was removed")
	}
	for i := range buf {
		buf[i] = c.v
	}
	return nil
}

// TestCaptureReadsExternalInputInLockStep: an input that PortAudio does not
// provide (Windows' WASAPI loopback) is read in lock-step with the other as
// the right channel, is started and closed with the capture, and its
// failure ends the capture in plain words naming it.
func TestCaptureReadsExternalInputInLockStep(t *testing.T) {
	mic, call := &constInput{v: 0.25}, &constInput{v: 0.5, failAt: 3}
	s := &paSource{in: []*paInput{extPaInput(mic, "microphone"), extPaInput(call, "call audio")}}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if !mic.started || !call.started {
		t.Fatal("Start did not start both inputs")
	}
	buf := make([]float32, 2*FrameSize)
	for i := 0; i < 2; i++ {
		if err := s.Read(buf); err != nil {
			t.Fatal(err)
		}
		for j := 0; j < FrameSize; j++ {
			if buf[2*j] != 0.25 || buf[2*j+1] != 0.5 {
				t.Fatalf("frame %d: left %v right %v, want 0.25 and 0.5", j, buf[2*j], buf[2*j+1])
			}
		}
	}
	if mic.reads != 2 || call.reads != 2 {
		t.Fatalf("reads: microphone %d, call %d; want 2 each", mic.reads, call.reads)
	}
	err := s.Read(buf)
	if err == nil || !strings.Contains(err.Error(), "call audio") {
		t.Fatalf("a failing call input gave %v, want an error naming the call audio", err)
	}
	_ = s.Close()
	if !mic.closed || !call.closed {
		t.Fatal("Close did not close both inputs")
	}
}

// TestBadInputGetsClearError_CallAudioRefused: when Windows refuses to
// capture what the computer plays, the message says that the other side
// cannot be recorded and what to do, and callers that handle
// ErrCallAudioUnsupported (the CLI's --call-input none hint, the app's
// settings hint) recognise it.
func TestBadInputGetsClearError_CallAudioRefused(t *testing.T) {
	why := errors.New("wasapi: capturing the default output: this system cannot capture what it plays (no WASAPI loopback; Wine has none)")
	err := error(&CallAudioError{Why: why})
	if !errors.Is(err, ErrCallAudioUnsupported) || !errors.Is(err, why) {
		t.Fatal("CallAudioError does not match ErrCallAudioUnsupported and its reason")
	}
	msg := err.Error()
	for _, want := range []string{"other side of the call cannot be recorded", "no WASAPI loopback", "speakers or a headset", `"(none)"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "wasapi:") {
		t.Errorf("message %q shows a package name", msg)
	}
}
