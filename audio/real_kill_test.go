package audio

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assent-app/assent/internal/testenv"
)

// privatePulse starts a PulseAudio server of the test's own (a null sink
// whose monitor is the default source), so the test can kill it without
// disturbing other tests. It returns the server address and the process.
func privatePulse(t *testing.T) (string, *exec.Cmd) {
	t.Helper()
	needTool(t, "pulseaudio")
	needTool(t, "pactl")
	dir, err := os.MkdirTemp("", "assent-pulse-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	rt := filepath.Join(dir, "run")
	if err := os.MkdirAll(filepath.Join(rt, "pulse"), 0o700); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(rt, "pulse", "native")
	pa := filepath.Join(dir, "default.pa")
	conf := "load-module module-null-sink sink_name=killsink rate=48000 channels=2\n" +
		"load-module module-native-protocol-unix auth-anonymous=1 socket=" + sock + "\n" +
		"set-default-sink killsink\nset-default-source killsink.monitor\n"
	if err := os.WriteFile(pa, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("pulseaudio", "--daemonize=no", "--system=false", "--exit-idle-time=-1", "--disallow-exit", "-n", "-F", pa, "--log-target=file:"+filepath.Join(dir, "pulse.log"))
	// No session bus: a second PulseAudio on the same bus fails with "D-Bus
	// name org.PulseAudio1 already taken" (an unreachable address, not an
	// unset one, which would autolaunch a bus).
	cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+rt, "HOME="+dir, "DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent", "DISPLAY=")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := "unix:" + sock
	for i := 0; ; i++ {
		if exec.Command("pactl", "-s", addr, "info").Run() == nil {
			break
		}
		if i == 100 {
			t.Fatal("private PulseAudio did not start in 10 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	return addr, cmd
}

func TestRealSoundServerKilledMidCaptureStopsCleanly(t *testing.T) {
	testenv.RequirePulse(t)
	addr, server := privatePulse(t)
	t.Setenv("PULSE_SERVER", addr)
	src, err := OpenCapture(CaptureConfig{})
	if err != nil {
		t.Fatal(err)
	}
	gate := &firstBufferGate{first: make(chan struct{})}
	sink := &memSink{}
	p, err := NewPipeline(PipelineConfig{Source: src, Gate: gate, Sink: sink})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background()) }()
	select {
	case <-gate.first:
	case <-time.After(10 * time.Second):
		t.Fatal("no audio within 10 s")
	}
	time.Sleep(1500 * time.Millisecond)
	if err := server.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	var runErr error
	select {
	case runErr = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("capture hung after the sound server was killed")
	}
	if runErr == nil || !strings.Contains(runErr.Error(), "sound server") {
		t.Fatalf("Run returned %v, want an error that names the sound server", runErr)
	}
	t.Logf("error shown: %v", runErr)
	if !sink.closed {
		t.Fatal("the recording was not closed")
	}
	pcm, err := DecodeOggOpus(bytes.NewReader(sink.all()))
	if err != nil {
		t.Fatalf("what was recorded before the crash does not decode: %v", err)
	}
	if pcm.Frames() < SampleRate {
		t.Fatalf("only %d frames kept of ≥ 1.5 s captured", pcm.Frames())
	}
}
