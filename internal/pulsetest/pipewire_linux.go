//go:build linux

package pulsetest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// StartPipeWire starts a private PipeWire (pipewire, wireplumber and
// pipewire-pulse, on a D-Bus session of its own, as a desktop runs them)
// laid out like Start's laptop without the combine sink, and points
// PULSE_SERVER at its PulseAudio server for the test (not parallel).
func StartPipeWire(t testing.TB) *Server {
	t.Helper()
	for _, tool := range []string{"pipewire", "wireplumber", "pipewire-pulse", "dbus-run-session", "pactl", "paplay"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed (scripts/deps.sh installs it)", tool)
		}
	}
	dir, err := os.MkdirTemp("", "assent-pipewire-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	rt := filepath.Join(dir, "run")
	if err := os.MkdirAll(rt, 0o700); err != nil {
		t.Fatal(err)
	}
	// wireplumber (the session manager: defaults, moving streams) needs a
	// session bus; pipewire-pulse needs pipewire running.
	script := `pipewire & sleep 0.5; wireplumber & sleep 0.5; pipewire-pulse & wait`
	cmd := exec.Command("dbus-run-session", "--", "sh", "-c", script)
	cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+rt, "HOME="+dir, "XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
		"XDG_STATE_HOME="+filepath.Join(dir, "state"), "DISPLAY=", "PULSE_SERVER=")
	log, err := os.Create(filepath.Join(dir, "pipewire.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // one group: the cleanup ends all of it
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait(); log.Close() })
	s := &Server{Addr: "unix:" + filepath.Join(rt, "pulse", "native"), dir: dir, cmd: cmd}
	for i := 0; ; i++ {
		if exec.Command("pactl", "-s", s.Addr, "info").Run() == nil {
			break
		}
		if i == 150 {
			b, _ := os.ReadFile(filepath.Join(dir, "pipewire.log"))
			t.Fatalf("private PipeWire did not start in 15 s: %s", b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, line := range laptop {
		s.Pactl(t, strings.Fields(line)...)
	}
	// wireplumber applies the defaults a moment after the nodes appear.
	for i := 0; ; i++ {
		s.Pactl(t, "set-default-sink", "speakers")
		s.Pactl(t, "set-default-source", "mic")
		if s.Pactl(t, "get-default-sink") == "speakers" && s.Pactl(t, "get-default-source") == "mic" {
			break
		}
		if i == 50 {
			t.Fatalf("PipeWire's defaults did not become speakers and mic (%s)", s.Pactl(t, "info"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Setenv("PULSE_SERVER", s.Addr)
	return s
}
