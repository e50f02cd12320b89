// Package pulsetest starts a private PulseAudio server laid out like a
// rep's laptop on a call, for tests only:
//
//   - "speakers" (Laptop speakers): a null sink, the default output — the
//     call plays here;
//   - "headset" (Headset): a second null sink, to switch the default to;
//   - "both": a combine sink playing into speakers and headset at once (the
//     same audio on both monitors, to check a switch between them for gaps);
//   - "micsink" + remap source "mic" (Headset microphone): the default
//     input — what is played into micsink is what the rep "says".
//
// Each test gets its own server, so it can change the defaults without
// disturbing tests running beside it. Requires pulseaudio and pactl
// (scripts/deps.sh); under scripts/with-real-parts.sh they are present.
package pulsetest

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Server is a running private PulseAudio.
type Server struct {
	Addr string // PULSE_SERVER value
	dir  string
	cmd  *exec.Cmd
}

// Start starts a private server and points PULSE_SERVER at it for the
// test (t.Setenv: the test must not be parallel).
func Start(t testing.TB) *Server {
	t.Helper()
	return start(t)
}

// StartLocked starts the same server, but refusing to load modules once it
// runs (--disallow-module-loading), as a locked-down sound server would.
func StartLocked(t testing.TB) *Server {
	t.Helper()
	return start(t, "--disallow-module-loading")
}

func start(t testing.TB, extra ...string) *Server {
	t.Helper()
	for _, tool := range []string{"pulseaudio", "pactl", "paplay"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed (scripts/deps.sh installs it)", tool)
		}
	}
	dir, err := os.MkdirTemp("", "assent-callpulse-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	rt := filepath.Join(dir, "run")
	if err := os.MkdirAll(filepath.Join(rt, "pulse"), 0o700); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(rt, "pulse", "native")
	conf := strings.Join(append(laptop[:4:4],
		"load-module module-combine-sink sink_name=both slaves=speakers,headset adjust_time=0 resample_method=trivial sink_properties=device.description=Both_outputs rate=48000 channels=2",
		"load-module module-native-protocol-unix auth-anonymous=1 socket="+sock,
		"set-default-sink speakers",
		"set-default-source mic",
	), "\n") + "\n"
	pa := filepath.Join(dir, "default.pa")
	if err := os.WriteFile(pa, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("pulseaudio", append([]string{"--daemonize=no", "--system=false", "--exit-idle-time=-1", "--disallow-exit",
		"-n", "-F", pa, "--log-target=file:" + filepath.Join(dir, "pulse.log")}, extra...)...)
	// No session bus: a second PulseAudio on the same bus fails with "D-Bus
	// name org.PulseAudio1 already taken" (an unreachable address, not an
	// unset one, which would autolaunch a bus).
	cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+rt, "HOME="+dir, "DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent", "DISPLAY=")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: "unix:" + sock, dir: dir, cmd: cmd}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for i := 0; ; i++ {
		if exec.Command("pactl", "-s", s.Addr, "info").Run() == nil {
			break
		}
		if i == 100 {
			log, _ := os.ReadFile(filepath.Join(dir, "pulse.log"))
			t.Fatalf("private PulseAudio did not start in 10 s: %s", log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Setenv("PULSE_SERVER", s.Addr)
	return s
}

// laptop is the rep's laptop: two outputs and a microphone (see the
// package comment).
var laptop = []string{
	"load-module module-null-sink sink_name=speakers sink_properties=device.description=Laptop_speakers rate=48000 channels=2",
	"load-module module-null-sink sink_name=headset sink_properties=device.description=Headset rate=48000 channels=2",
	"load-module module-null-sink sink_name=micsink sink_properties=device.description=Mic_line rate=48000 channels=1",
	"load-module module-remap-source source_name=mic master=micsink.monitor source_properties=device.description=Headset_microphone",
}

// Pactl runs pactl against the server and fails the test on error.
func (s *Server) Pactl(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command("pactl", append([]string{"-s", s.Addr}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("pactl %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// Play starts playing a WAV file into sink ("" = the default output, so
// the stream follows a default change like a call application's does) and
// returns a function that waits for it to end.
func (s *Server) Play(t testing.TB, sink, wav string) (wait func()) {
	t.Helper()
	return s.play(t, nil, sink, wav)
}

// play runs paplay with extra arguments (the stream's properties) into
// sink ("" = the default output) until the file ends or the test does.
func (s *Server) play(t testing.TB, extra []string, sink, wav string) (wait func()) {
	t.Helper()
	// paplay's default buffer (2 s): a low-latency player underruns on a
	// loaded machine and puts gaps into the "far end" itself. (Moving a
	// player with a 2 s buffer between sinks drops that buffer: tests of a
	// default change play into "both" instead of moving the player.)
	args := append([]string{"-s", s.Addr}, extra...)
	if sink != "" {
		args = append(args, "-d", sink)
	}
	cmd := exec.Command("paplay", append(args, wav)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
	return func() { <-done }
}

// Listen keeps a low-latency reader on a source for the rest of the test
// (so two null sinks run with the same latency; a sink nobody listens to
// renders in 2 s blocks).
func (s *Server) Listen(t testing.TB, source string) {
	t.Helper()
	cmd := exec.Command("parec", "-s", s.Addr, "--latency-msec=20", "-d", source)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
}

// FakeCallApp starts a process that looks like a call application to the
// sound server (application.name = name, application.process.binary =
// binary) and captures the microphone, as `parec --client-name` does. It
// returns a function that stops it.
func (s *Server) FakeCallApp(t testing.TB, name, binary string) (stop func()) {
	t.Helper()
	cmd := exec.Command("parec", "-s", s.Addr, "--client-name="+name, "-d", "mic")
	cmd.Env = append(os.Environ(), "PULSE_PROP=application.process.binary="+binary)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}
	t.Cleanup(stop)
	return stop
}

// PlayApp plays a WAV file as an application would: a playback stream
// whose application.name is name and application.process.binary is binary
// (a fake "Zoom" playing the far end, a "Firefox" playing music), to sink
// ("" = the default output). It returns a function that waits for the end.
func (s *Server) PlayApp(t testing.TB, name, binary, sink, wav string) (wait func()) {
	t.Helper()
	return s.play(t, []string{"--client-name=" + name, "--property=application.process.binary=" + binary}, sink, wav)
}

// Record records a source (e.g. "speakers.monitor": what the rep hears) as
// 48 kHz mono float samples until stop is called. It returns once the
// source's stream is arriving, so nothing played next is missed.
func (s *Server) Record(t testing.TB, source string) (stop func() []float32) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rec.raw")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("parec", "-s", s.Addr, "-d", source, "--rate=48000", "--channels=1",
		"--format=float32le", "--raw", "--latency-msec=20")
	cmd.Stdout = f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); f.Close() })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if st, err := f.Stat(); err == nil && st.Size() >= 9600 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("parec delivered nothing from %s within 10 s", source)
		}
	}
	return func() []float32 {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		f.Close()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]float32, len(b)/4)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		return out
	}
}

// playback lists the server's playback streams (sink inputs).
func (s *Server) playback(t testing.TB) []struct {
	Index      int               `json:"index"`
	Sink       int               `json:"sink"`
	Properties map[string]string `json:"properties"`
} {
	t.Helper()
	var raw []struct {
		Index      int               `json:"index"`
		Sink       int               `json:"sink"`
		Properties map[string]string `json:"properties"`
	}
	if err := json.Unmarshal([]byte(s.Pactl(t, "-f", "json", "list", "sink-inputs")), &raw); err != nil {
		t.Fatalf("pactl list sink-inputs: %v", err)
	}
	return raw
}

// StreamsOf lists the indices of an application's (application.name)
// playback streams.
func (s *Server) StreamsOf(t testing.TB, app string) []int {
	t.Helper()
	var out []int
	for _, r := range s.playback(t) {
		if r.Properties["application.name"] == app {
			out = append(out, r.Index)
		}
	}
	return out
}

// SinkOf names the outputs the playback streams of an application
// (application.name) play to now.
func (s *Server) SinkOf(t testing.TB, app string) []string {
	t.Helper()
	raw := s.playback(t)
	names := map[int]string{}
	var sinks []struct {
		Index int    `json:"index"`
		Name  string `json:"name"`
	}
	if err := json.Unmarshal([]byte(s.Pactl(t, "-f", "json", "list", "sinks")), &sinks); err != nil {
		t.Fatalf("pactl list sinks: %v", err)
	}
	for _, sk := range sinks {
		names[sk.Index] = sk.Name
	}
	var where []string
	for _, r := range raw {
		if r.Properties["application.name"] == app {
			where = append(where, names[r.Sink])
		}
	}
	return where
}

// Modules lists the loaded modules' arguments (pactl list short modules).
func (s *Server) Modules(t testing.TB) string {
	t.Helper()
	return s.Pactl(t, "list", "short", "modules")
}
