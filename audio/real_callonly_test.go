//go:build linux

package audio

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/assent-app/assent/internal/pulsetest"
	"github.com/assent-app/assent/internal/testenv"
)

// padWAV writes wav with lead seconds of silence before it: a player with
// paplay's 2 s buffer that is moved between outputs drops what it had
// buffered (a real call application buffers tens of ms), so the far end's
// words start after that.
func padWAV(t *testing.T, wav string, lead float64) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "padded.wav")
	if b, err := exec.Command("sox", wav, out, "pad", fmt.Sprint(lead), "0").CombinedOutput(); err != nil {
		t.Fatalf("sox pad: %v %s", err, b)
	}
	return out
}

// TestRealCallOnlyRecordsOnlyTheCallApp: a fake Zoom (using the microphone)
// plays the far end while "Firefox" plays music to the same default output.
// With the call audio set to "only the call app", the right channel holds
// Zoom's sound and not the music, also from a second Zoom stream that
// starts mid-call; the rep still hears Zoom on the default output; and
// afterwards Zoom's streams are back where they played, with no Assent
// module left on the sound server.
func TestRealCallOnlyRecordsOnlyTheCallApp(t *testing.T) {
	testenv.RequirePulse(t)
	callOnlyRecording(t, pulsetest.Start)
}

// TestRealCallOnlyOnPipeWire: the same on a private PipeWire (pipewire,
// wireplumber, pipewire-pulse), which runs the same modules and commands.
func TestRealCallOnlyOnPipeWire(t *testing.T) {
	testenv.RequirePulse(t)
	callOnlyRecording(t, pulsetest.StartPipeWire)
}

func callOnlyRecording(t *testing.T, start func(testing.TB) *pulsetest.Server) {
	needTool(t, "sox")
	retryOnce(t, func(tr *attempt) {
		srv := start(t)
		srv.FakeCallApp(t, "Zoom", "zoom") // Zoom holds the microphone: it is the call app
		wavA, farA := speechWAV(t, "Hello, this is the customer speaking through Zoom. Can you hear me clearly?")
		wavB, farB := speechWAV(t, "And now Zoom opened a second stream, after the screen share started.")
		wavMusic, music := soxWAV(t, "music.wav", "9", "sine", "300-1200", "vol", "0.5")
		wavQuiet, _ := soxWAV(t, "quiet.wav", "60", "sine", "200", "vol", "0")
		// A Zoom stream playing to the headset (not the default output): it
		// must go back there, not to the default, afterwards.
		srv.PlayApp(t, "Zoom", "zoom", "headset", wavQuiet)
		waitA := srv.PlayApp(t, "Zoom", "zoom", "", padWAV(t, wavA, 2.5))
		waitMusic := srv.PlayApp(t, "Firefox", "firefox", "", wavMusic)
		time.Sleep(300 * time.Millisecond) // the streams exist on the server

		src, err := OpenCapture(CaptureConfig{CallInput: CallApp})
		if err != nil {
			t.Fatal(err)
		}
		if got := RecordedApp(src); got != "Zoom" {
			t.Fatalf("records the sound of %q, want Zoom (the app using the microphone)", got)
		}
		ps := src.(*paSource)
		heard := srv.Record(t, "speakers.monitor") // what the rep hears
		var onSpeakers []float32
		pcm, _ := captureWhile(t, src, func() {
			waitA()
			waitMusic()
			waitB := srv.PlayApp(t, "Zoom", "zoom", "", padWAV(t, wavB, 2.5))
			waitB()
			time.Sleep(2 * time.Second) // the sinks' latency drains
			onSpeakers = heard()
		})
		if err := src.Close(); err != nil {
			t.Fatal(err)
		}
		right := toFloat(pcm.Channel(1))
		a, _ := alignedCorrelation(farA, right, len(right))
		b, _ := alignedCorrelation(farB, right, len(right))
		m, _ := alignedCorrelation(music, right, len(right))
		// What the rep hears goes through the loopback, which adjusts its
		// rate to keep its latency (a few ms over a clip): each voiced half
		// second is found at its own lag, within 50 ms of the whole clip's.
		_, hl := alignedCorrelation(farB, onSpeakers, len(onSpeakers))
		h, voiced := 2.0, 0
		for off := 0; off+SampleRate/2 <= len(farB); off += SampleRate / 2 {
			piece := farB[off : off+SampleRate/2]
			if energy(piece) < 0.2*energy(farB) {
				continue // a pause
			}
			from := max(0, hl+off-SampleRate/20)
			c, _ := alignedCorrelation(piece, onSpeakers[from:min(len(onSpeakers), from+SampleRate/2+SampleRate/10)], SampleRate/10)
			h = min(h, c)
			voiced++
		}
		tr.Logf("right ~ Zoom %.3f, ~ Zoom's mid-call stream %.3f, ~ Firefox's music %.3f; the rep hears Zoom: worst of %d voiced half seconds %.3f (%d moves)",
			a, b, m, voiced, h, ps.router.moves.Load())
		if voiced < 4 {
			tr.Fatalf("only %d voiced pieces of Zoom's speech to check", voiced)
		}
		if a <= 0.9 {
			tr.Errorf("Zoom's far end in the right channel: correlation %.3f, want > 0.9", a)
		}
		if b <= 0.9 {
			tr.Errorf("Zoom's stream that started mid-call: correlation %.3f, want > 0.9", b)
		}
		if m >= 0.3 {
			tr.Errorf("Firefox's music is in the right channel: correlation %.3f, want < 0.3", m)
		}
		if h <= 0.9 {
			tr.Errorf("the rep no longer hears Zoom on the default output: correlation %.3f, want > 0.9", h)
		}
		if where := srv.SinkOf(t, "Zoom"); len(where) != 1 || where[0] != "headset" {
			tr.Errorf("after the recording Zoom plays to %q, want its stream back on \"headset\"", where)
		}
		if mods := srv.Modules(t); strings.Contains(mods, callSinkPrefix) {
			tr.Errorf("Assent's routing is still loaded after Close:\n%s", mods)
		}
	})
}

// TestRealCallOnlyCloseWithoutStart: capture opened for the call app and
// closed without ever starting leaves nothing behind; an explicit app name
// is used as given.
func TestRealCallOnlyCloseWithoutStart(t *testing.T) {
	testenv.RequirePulse(t)
	srv := pulsetest.Start(t)
	wavQuiet, _ := soxWAV(t, "quiet.wav", "30", "sine", "200", "vol", "0")
	srv.PlayApp(t, "Microsoft Teams", "teams", "", wavQuiet)
	time.Sleep(300 * time.Millisecond)
	if _, err := OpenCapture(CaptureConfig{CallInput: CallApp}); err == nil || !strings.Contains(err.Error(), "no call application") {
		t.Fatalf("no call app uses the microphone: got %v, want ErrNoCallApp", err)
	}
	src, err := OpenCapture(CaptureConfig{CallInput: CallApp + ":Microsoft Teams"})
	if err != nil {
		t.Fatal(err)
	}
	sink := src.(*paSource).router.sink
	if where := srv.SinkOf(t, "Microsoft Teams"); len(where) != 1 || where[0] != sink {
		t.Fatalf("Teams plays to %q, want Assent's call sink %q", where, sink)
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	if where := srv.SinkOf(t, "Microsoft Teams"); len(where) != 1 || where[0] != "speakers" {
		t.Fatalf("after Close Teams plays to %q, want \"speakers\"", where)
	}
	if mods := srv.Modules(t); strings.Contains(mods, callSinkPrefix) {
		t.Fatalf("Assent's routing is still loaded after Close:\n%s", mods)
	}
}

// TestRealCallOnlyKilledRecordingCleanedUp: a process recording only Zoom's
// sound is killed (kill -9). Its routing stays on the sound server, but the
// rep still hears Zoom (the loopback), a running recorder's routing is
// never touched by another's cleanup, and the next start's cleanup unloads
// it: the sound server moves Zoom back to the default output.
func TestRealCallOnlyKilledRecordingCleanedUp(t *testing.T) {
	testenv.RequirePulse(t)
	for name, start := range map[string]func(testing.TB) *pulsetest.Server{"PulseAudio": pulsetest.Start, "PipeWire": pulsetest.StartPipeWire} {
		t.Run(name, func(t *testing.T) { killedCallOnly(t, start) })
	}
}

func killedCallOnly(t *testing.T, start func(testing.TB) *pulsetest.Server) {
	srv := start(t)
	wavQuiet, _ := soxWAV(t, "quiet.wav", "60", "sine", "200", "vol", "0")
	srv.PlayApp(t, "Zoom", "zoom", "", wavQuiet)
	time.Sleep(300 * time.Millisecond)

	cmd := exec.Command(os.Args[0], "-test.run=^TestCallOnlyHelperProcess$")
	cmd.Env = append(os.Environ(), "ASSENT_CALLONLY_HELPER=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if s, ok := strings.CutPrefix(sc.Text(), "capturing "); ok {
				ready <- s
			}
		}
		close(ready)
	}()
	var sink string
	select {
	case sink = <-ready:
	case <-time.After(30 * time.Second):
		t.Fatal("the helper did not start capturing within 30 s")
	}
	// A session manager (WirePlumber) that reacts to the private sink by
	// re-linking streams may move Zoom once more, asynchronously; the
	// router's watcher moves it back on that change event.
	var where []string
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if where = srv.SinkOf(t, "Zoom"); len(where) == 1 && where[0] == sink {
			break
		}
	}
	if len(where) != 1 || where[0] != sink {
		t.Fatalf("Zoom plays to %q, want the helper's call sink %q", where, sink)
	}
	if err := CleanupCallRouting(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(srv.Modules(t), sink) {
		t.Fatal("the cleanup removed the routing of a recorder that is still running")
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	mods := srv.Modules(t)
	if !strings.Contains(mods, "module-loopback") || !strings.Contains(mods, sink) {
		t.Fatalf("after kill -9 the routing should still be there (so the rep hears the call); modules:\n%s", mods)
	}
	// The next start cleans up (OpenCapture does the same before a recording).
	if err := CleanupCallRouting(context.Background()); err != nil {
		t.Fatal(err)
	}
	if mods := srv.Modules(t); strings.Contains(mods, callSinkPrefix) {
		t.Fatalf("the killed recorder's routing is still loaded after the cleanup:\n%s", mods)
	}
	if where := srv.SinkOf(t, "Zoom"); len(where) != 1 || where[0] != "speakers" {
		t.Fatalf("after the cleanup Zoom plays to %q, want the default output \"speakers\" (stream rescue)", where)
	}
}

// TestCallOnlyHelperProcess is the recorder TestRealCallOnlyKilledRecordingCleanedUp kills.
func TestCallOnlyHelperProcess(t *testing.T) {
	if os.Getenv("ASSENT_CALLONLY_HELPER") != "1" {
		t.Skip("a helper process of TestRealCallOnlyKilledRecordingCleanedUp")
	}
	src, err := OpenCapture(CaptureConfig{CallInput: CallApp + ":Zoom"})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Start(); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("capturing %s\n", src.(*paSource).router.sink)
	buf := make([]float32, FrameSize*src.Channels())
	for {
		if err := src.Read(buf); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRealCallOnlyFollowsTheRepsOutput: recording only Zoom, the rep
// switches the default output to the headset mid-call; the loopback
// follows, so the rep hears Zoom in the headset, and the recording still
// has Zoom's far end.
func TestRealCallOnlyFollowsTheRepsOutput(t *testing.T) {
	testenv.RequirePulse(t)
	retryOnce(t, func(tr *attempt) {
		srv := pulsetest.Start(t)
		srv.FakeCallApp(t, "Zoom", "zoom")
		wav, far := speechWAV(t, "I am the customer, and you should hear me in your headset now that you switched to it.")
		src, err := OpenCapture(CaptureConfig{CallInput: CallApp})
		if err != nil {
			t.Fatal(err)
		}
		ps := src.(*paSource)
		var inHeadset []float32
		pcm, _ := captureWhile(t, src, func() {
			srv.Pactl(t, "set-default-sink", "headset")
			for t0 := time.Now(); ; time.Sleep(20 * time.Millisecond) {
				ps.router.mu.Lock()
				out := ps.router.output
				ps.router.mu.Unlock()
				if out == "headset" {
					tr.Logf("the loopback followed to the headset after %v", time.Since(t0).Round(time.Millisecond))
					break
				}
				if time.Since(t0) > 5*time.Second {
					tr.Fatalf("the loopback still plays to %q 5 s after the switch", out)
				}
			}
			heard := srv.Record(t, "headset.monitor")
			srv.PlayApp(t, "Zoom", "zoom", "", padWAV(t, wav, 2.5))()
			time.Sleep(2 * time.Second)
			inHeadset = heard()
		})
		if err := src.Close(); err != nil {
			t.Fatal(err)
		}
		right := toFloat(pcm.Channel(1))
		r, _ := alignedCorrelation(far, right, len(right))
		h, _ := alignedCorrelation(far, inHeadset, len(inHeadset))
		tr.Logf("right ~ Zoom %.3f; the headset carries Zoom %.3f", r, h)
		if r <= 0.9 {
			tr.Errorf("Zoom's far end in the right channel after the switch: %.3f, want > 0.9", r)
		}
		if h <= 0.8 {
			tr.Errorf("the rep does not hear Zoom in the headset after the switch: %.3f, want > 0.8", h)
		}
	})
}

// TestBadInputGetsClearError_CallOnlyNotPossible: only the call app's
// sound is asked for where it cannot be had — no sound server, or one that
// refuses to load modules — and the recording is refused in plain words;
// nothing is re-routed and nothing falls back to recording everything.
func TestBadInputGetsClearError_CallOnlyNotPossible(t *testing.T) {
	testenv.RequirePulse(t)
	srv := pulsetest.StartLocked(t)
	srv.FakeCallApp(t, "Zoom", "zoom")
	wavQuiet, _ := soxWAV(t, "quiet.wav", "30", "sine", "200", "vol", "0")
	srv.PlayApp(t, "Zoom", "zoom", "", wavQuiet)
	time.Sleep(300 * time.Millisecond)
	_, err := OpenCapture(CaptureConfig{CallInput: CallApp})
	if !errors.Is(err, ErrCallOnlyUnsupported) || !strings.Contains(err.Error(), "cannot record only the call application's sound") {
		t.Fatalf("a server that loads no modules: %v, want ErrCallOnlyUnsupported in words", err)
	}
	t.Logf("refused: %v", err)
	if where := srv.SinkOf(t, "Zoom"); len(where) != 1 || where[0] != "speakers" {
		t.Fatalf("Zoom was moved to %q although nothing could be recorded", where)
	}

	t.Setenv("PULSE_SERVER", "unix:"+filepath.Join(t.TempDir(), "no-server"))
	_, err = OpenCapture(CaptureConfig{CallInput: CallApp})
	if !errors.Is(err, ErrNoSoundServer) || !strings.Contains(err.Error(), "PulseAudio or PipeWire") {
		t.Fatalf("no sound server: %v, want ErrNoSoundServer in words", err)
	}
}

// TestRealCallOnlyKeepsTheRepsDefaultOutput: on a desktop that switches to
// every new output (module-switch-on-connect without ignore_virtual, as
// some distributions and PipeWire policies do), Assent's private sink must
// not become the default: everything the computer plays would then go into
// it and be recorded as "only the call". The rep's default stays; music that
// was playing, which the desktop moved into the new sink, is moved back; and
// an app that starts playing during the call plays to the rep's output, not
// into the recording.
func TestRealCallOnlyKeepsTheRepsDefaultOutput(t *testing.T) {
	testenv.RequirePulse(t)
	needTool(t, "sox")
	srv := pulsetest.Start(t)
	srv.Pactl(t, "load-module", "module-switch-on-connect", "ignore_virtual=no")
	before := strings.TrimSpace(srv.Pactl(t, "get-default-sink"))
	srv.FakeCallApp(t, "Zoom", "zoom")
	wavQuiet, _ := soxWAV(t, "quiet.wav", "30", "sine", "200", "vol", "0")
	srv.PlayApp(t, "Zoom", "zoom", "", wavQuiet)
	srv.PlayApp(t, "Rhythmbox", "rhythmbox", before, wavQuiet) // music already playing, on the rep's output by name
	time.Sleep(300 * time.Millisecond)
	src, err := OpenCapture(CaptureConfig{CallInput: CallApp})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if got := strings.TrimSpace(srv.Pactl(t, "get-default-sink")); got != before {
		t.Fatalf("the default output became %q (was %q) when Assent's private sink was loaded", got, before)
	}
	srv.PlayApp(t, "Firefox", "firefox", "", wavQuiet) // a new stream, on the default output
	time.Sleep(300 * time.Millisecond)
	// Something (a mixer, the desktop's policy) moves the music into the
	// recording's sink mid-call: it is moved back to the rep's output.
	if err := src.Start(); err != nil {
		t.Fatal(err)
	}
	music := srv.StreamsOf(t, "Rhythmbox")
	if len(music) != 1 {
		t.Fatalf("music streams %v, want one", music)
	}
	srv.Pactl(t, "move-sink-input", strconv.Itoa(music[0]), srv.SinkOf(t, "Zoom")[0])
	back := false
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end) && !back; time.Sleep(50 * time.Millisecond) {
		got := srv.SinkOf(t, "Rhythmbox")
		back = len(got) == 1 && got[0] == before
	}
	if !back {
		t.Fatalf("the music moved into the recording's sink stayed there: %v", srv.SinkOf(t, "Rhythmbox"))
	}
	for _, app := range []string{"Firefox", "Rhythmbox"} {
		for _, sink := range srv.SinkOf(t, app) {
			if strings.HasPrefix(sink, "assent_call_") {
				t.Fatalf("%s's stream plays into the recording's sink %s", app, sink)
			}
		}
	}
	if got := srv.SinkOf(t, "Zoom"); len(got) != 1 || !strings.HasPrefix(got[0], "assent_call_") {
		t.Fatalf("Zoom plays to %v, want the recording's sink", got)
	}
}
