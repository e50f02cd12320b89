package audio

import (
	"strings"
	"testing"
)

func TestBadInputGetsClearError_UnknownDevice(t *testing.T) {
	_, err := OpenCapture(CaptureConfig{Input: "no such microphone 42"})
	if err == nil {
		t.Fatal("an unknown input device was opened")
	}
	msg := err.Error()
	if !strings.Contains(msg, "no such microphone 42") || !strings.Contains(msg, "assent devices") {
		t.Fatalf("error %q does not name the device and what to do", msg)
	}
	if _, err := OpenCapture(CaptureConfig{Input: "9999"}); err == nil || !strings.Contains(err.Error(), "number 9999") {
		t.Fatalf("device number 9999: %v", err)
	}
}

func TestBadInputGetsClearError_NoSoundServer(t *testing.T) {
	// A sound server that is not there: what the user sees must say so.
	t.Setenv("PULSE_SERVER", "unix:/nonexistent/assent-test/native")
	src, err := OpenCapture(CaptureConfig{})
	if err == nil {
		err = src.Start()
		if err == nil {
			err = src.Read(make([]float32, FrameSize))
		}
		src.Close()
	}
	if err == nil {
		t.Skip("this machine captures without a sound server (a hardware input is present)")
	}
	msg := err.Error()
	t.Logf("error shown: %s", msg)
	if !strings.Contains(msg, "sound server") && !strings.Contains(msg, "no input device") {
		t.Fatalf("error %q does not tell the user to check the sound server", msg)
	}
}
