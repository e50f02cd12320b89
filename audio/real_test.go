package audio

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/assent-app/assent/internal/testenv"
)

// speechWAV makes a 48 kHz mono WAV of spoken text with espeak-ng and sox.
func speechWAV(t *testing.T, text string) (string, []float32) {
	t.Helper()
	needTool(t, "espeak-ng")
	needTool(t, "sox")
	dir := t.TempDir()
	raw, out := filepath.Join(dir, "speech.wav"), filepath.Join(dir, "speech48.wav")
	if b, err := exec.Command("espeak-ng", "-w", raw, text).CombinedOutput(); err != nil {
		t.Fatalf("espeak-ng: %v %s", err, b)
	}
	if b, err := exec.Command("sox", raw, "-r", "48000", "-b", "16", out).CombinedOutput(); err != nil {
		t.Fatalf("sox: %v %s", err, b)
	}
	s, ch, err := ReadWAV(out)
	if err != nil || ch != 1 {
		t.Fatalf("reading speech: %v (%d ch)", err, ch)
	}
	return out, s
}

// firstBufferGate admits everything and closes first when the first buffer
// has arrived (capture starts 0.3–2 s after Start).
type firstBufferGate struct {
	once  sync.Once
	first chan struct{}
}

func (g *firstBufferGate) Admit(int) bool {
	g.once.Do(func() { close(g.first) })
	return true
}

func paplay(t *testing.T, sink, wav string) {
	t.Helper()
	if b, err := exec.Command("paplay", "-d", sink, wav).CombinedOutput(); err != nil {
		t.Fatalf("paplay -d %s: %v %s", sink, err, b)
	}
}

func TestRealCaptureFromPulseAudio(t *testing.T) {
	testenv.RequirePulse(t)
	wav, speech := speechWAV(t, "Hello, this is a recorded sales call. Everybody on the line has agreed to the recording notice.")

	devs, err := Devices()
	if err != nil {
		t.Fatal(err)
	}
	hasDefault := false
	for _, d := range devs {
		if d.Default {
			hasDefault = true
		}
	}
	if len(devs) == 0 || !hasDefault {
		t.Fatalf("devices %+v: want at least one, one of them the default", devs)
	}

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
		t.Fatal("no audio buffer within 10 s of starting capture")
	}
	var peak atomic.Value
	peak.Store(SilenceDB)
	pollDone := make(chan struct{})
	go func() {
		defer close(pollDone)
		for i := 0; i < 400; i++ {
			if l := p.Meters().Level(0); l.Peak > peak.Load().(float64) {
				peak.Store(l.Peak)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	paplay(t, "callsink", wav)
	time.Sleep(500 * time.Millisecond)
	<-pollDone
	if pk := peak.Load().(float64); pk < -30 {
		t.Fatalf("the level meter never rose above %.1f dBFS while speech played", pk)
	}
	// The source says how late it reads (the age the consent gate judges
	// each buffer by).
	d := src.(CaptureClock).CaptureDelay()
	t.Logf("capture delay after the last read: %v", d)
	if d < 0 || d > 3*time.Second {
		t.Fatalf("capture delay %v, want a measured [0, 3 s]", d)
	}
	p.Stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	path := writeTemp(t, "rec.opus", sink.all())
	if out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0", path).CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "opus" {
		t.Fatalf("ffprobe: %v %s", err, out)
	}
	dec := ffmpegDecode(t, path, 1)
	r, lag := alignedCorrelation(speech, dec, len(dec))
	t.Logf("captured %.2f s; speech found at %.3f s with correlation %.3f", float64(len(dec))/SampleRate, float64(lag)/SampleRate, r)
	if r < 0.9 {
		t.Fatalf("correlation with the played speech %.3f, want > 0.9", r)
	}
	if st := p.Stats(); st.Dropped != 0 || st.Admitted != st.Captured {
		t.Fatalf("stats %+v", st)
	}
}

func TestRealStereoCaptureMicLeftCallRight(t *testing.T) {
	testenv.RequirePulse(t)
	wavA, a := speechWAV(t, "This is me, the sales representative, speaking on the left channel.")
	wavB, b := speechWAV(t, "And this is the customer on the call, who should be heard on the right.")
	// Known weakness (docs/audio.md): on a heavily loaded machine the ALSA
	// "pulse" plugin sometimes delivers silence on the second stream of a
	// process (xrun recovery). One retry keeps CI honest about the feature
	// while that is investigated; both attempts failing fails the test.
	var ra, rb, xa float64
	for attempt := 1; attempt <= 2; attempt++ {
		ra, rb, xa = stereoAttempt(t, wavA, wavB, a, b)
		t.Logf("attempt %d: left~me %.3f, right~call %.3f, right~me %.3f", attempt, ra, rb, xa)
		if ra >= 0.85 && rb >= 0.85 {
			break
		}
	}
	if ra < 0.85 || rb < 0.85 {
		t.Fatalf("channels do not carry their inputs: left~me %.3f, right~call %.3f", ra, rb)
	}
	if xa > 0.5 {
		t.Fatalf("the microphone leaks into the call channel (%.3f)", xa)
	}
}

func stereoAttempt(t *testing.T, wavA, wavB string, a, b []float32) (ra, rb, xa float64) {
	t.Helper()
	src, err := OpenCapture(CaptureConfig{Input: "pulse:callsink.monitor", CallInput: "pulse:othersink.monitor"})
	if err != nil {
		t.Fatal(err)
	}
	if src.Channels() != 2 {
		t.Fatalf("%d channels", src.Channels())
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
		t.Fatal("no audio buffer within 10 s")
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); paplay(t, "callsink", wavA) }()
	go func() { defer wg.Done(); paplay(t, "othersink", wavB) }()
	wg.Wait()
	// paplay returns once the server has the samples, not once a null sink
	// rendered them (a sink with no low-latency reader renders in blocks of
	// up to 2 s): keep capturing until they drained.
	time.Sleep(2 * time.Second)
	p.Stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mic, call := src.(*paSource).DriftCorrections()
	t.Logf("drift corrections: %d frames dropped from the microphone, %d from the call; overflows %v", mic, call, src.(*paSource).Overflows())
	pcm, err := DecodeOggOpus(bytes.NewReader(sink.all()))
	if err != nil {
		t.Fatal(err)
	}
	left, right := toFloat(pcm.Channel(0)), toFloat(pcm.Channel(1))
	ra, _ = alignedCorrelation(a, left, len(left))
	rb, _ = alignedCorrelation(b, right, len(right))
	xa, _ = alignedCorrelation(a, right, len(right))
	return ra, rb, xa
}

// parecord records callsink.monitor as raw 48 kHz mono s16 until stop is called.
func parecord(t *testing.T) (stop func() []float32) {
	t.Helper()
	needTool(t, "parec")
	path := filepath.Join(t.TempDir(), "mon.raw")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("parec", "-d", "callsink.monitor", "--rate=48000", "--channels=1", "--format=s16le", "--raw", "--latency-msec=20")
	cmd.Stdout = f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// parec connects after a moment; wait until the monitor's (silent)
	// stream is actually arriving, so nothing played next is missed.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if st, err := f.Stat(); err == nil && st.Size() >= 4800 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("parec delivered nothing within 10 s")
		}
	}
	return func() []float32 {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		f.Close()
		b := readFile(t, path)
		out := make([]float32, len(b)/2)
		for i := range out {
			out[i] = float32(int16(binary.LittleEndian.Uint16(b[2*i:]))) / 32768
		}
		return out
	}
}

func TestRealPlaybackIntoPulseAudio(t *testing.T) {
	testenv.RequirePulse(t)
	speech := SpeechLike(3, 9)
	stream := encodeStream(t, speech)
	pl, err := NewPlayer(bytes.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	if d := pl.Duration(); d != 3*time.Second {
		t.Fatalf("duration %v, want 3s", d)
	}
	stop := parecord(t)
	pl.Play()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := pl.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if pos := pl.Position(); pos < 2900*time.Millisecond {
		t.Fatalf("position after playing %v", pos)
	}
	time.Sleep(300 * time.Millisecond)
	heard := stop()
	found, rs := piecesHeard(speech, heard)
	t.Logf("heard %.2f s; 0.5 s pieces of the recording found with correlation %.2f", float64(len(heard))/SampleRate, rs)
	if found < len(rs)*2/3 {
		t.Fatalf("what was played does not match the recording: %d of %d pieces heard", found, len(rs))
	}
}

// piecesHeard looks for each 0.5 s piece of want in heard. On a loaded
// machine the output underruns now and then (measured with load 13 on 2
// cores), dropping or shifting a piece, so callers ask for a majority.
func piecesHeard(want, heard []float32) (int, []float64) {
	var rs []float64
	found := 0
	for i := 0; i+SampleRate/2 <= len(want); i += SampleRate / 2 {
		r, _ := alignedCorrelation(want[i:i+SampleRate/2], heard, len(heard))
		rs = append(rs, r)
		if r > 0.8 {
			found++
		}
	}
	return found, rs
}

func TestRealPlaybackPauseAndSeek(t *testing.T) {
	testenv.RequirePulse(t)
	speech := SpeechLike(6, 10)
	stream := encodeStream(t, speech)
	pl, err := NewPlayer(bytes.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	pl.Play()
	// The output starts after a latency that depends on the machine's load:
	// wait until something has been heard, then let it play a little.
	// (Position may run ahead by one of oto's reads while it starts.)
	for deadline := time.Now().Add(5 * time.Second); pl.Position() < 250*time.Millisecond; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("nothing was played within 5 s")
		}
	}
	time.Sleep(200 * time.Millisecond)
	pl.Pause()
	time.Sleep(100 * time.Millisecond)
	p1 := pl.Position()
	time.Sleep(400 * time.Millisecond)
	if p2 := pl.Position(); p2 != p1 || pl.Playing() {
		t.Fatalf("paused but position moved %v → %v (playing %v)", p1, p2, pl.Playing())
	}
	if p1 <= 0 || p1 > 1500*time.Millisecond {
		t.Fatalf("position after 0.2 s of audible play: %v", p1)
	}
	if err := pl.Seek(4 * time.Second); err != nil {
		t.Fatal(err)
	}
	if p := pl.Position(); p != 4*time.Second {
		t.Fatalf("position after seek %v, want 4s", p)
	}
	stop := parecord(t)
	pl.Play()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := pl.Wait(ctx); err != nil {
		t.Fatalf("%v; position %v of %v, playing %v", err, pl.Position(), pl.Duration(), pl.Playing())
	}
	time.Sleep(300 * time.Millisecond)
	heard := stop()
	// What was heard after the seek is the last 2 s, not the start. Compare
	// in 0.5 s pieces: on a loaded machine the output underruns and drops
	// pieces (measured with load 13 on 2 cores), so a majority must match.
	var tailOK, headHits int
	var rs []float64
	for w := 0; w < 4; w++ {
		piece := func(from float64) []float32 {
			i := int((from + 0.5*float64(w)) * SampleRate)
			return speech[i : i+SampleRate/2]
		}
		rt, _ := alignedCorrelation(piece(4), heard, len(heard))
		rh, _ := alignedCorrelation(piece(0), heard, len(heard))
		rs = append(rs, rt)
		if rt > 0.8 {
			tailOK++
		}
		if rh > 0.6 {
			headHits++
		}
	}
	t.Logf("after seek: heard %.2f s; pieces of 4–6 s found with correlation %.2f", float64(len(heard))/SampleRate, rs)
	if tailOK < 3 || headHits > 0 {
		t.Fatalf("after seeking to 4 s the output does not match 4–6 s of the recording (%d of 4 pieces found, %d pieces of 0–2 s heard)", tailOK, headHits)
	}
}

func TestRealChimeAndBeepAreHeard(t *testing.T) {
	testenv.RequirePulse(t)
	stop := parecord(t)
	if err := PlayChime(context.Background(), ChimeStart); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 1200*time.Millisecond)
	defer cancel()
	if err := RunBeeper(ctx, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	heard := stop()
	if e5, b5, beep := toneSeen(heard, 659.25), toneSeen(heard, 987.77), toneSeen(heard, BeepHz); e5 < 1e-3 || b5 < 1e-3 || beep < 1e-3 {
		t.Fatalf("tone power E5 %.3g B5 %.3g beep %.3g: chime or beep not heard", e5, b5, beep)
	}
}

func encodeStream(t testing.TB, mono []float32) []byte {
	t.Helper()
	sink := &memSink{}
	p, err := NewPipeline(PipelineConfig{Source: NewPCMSource(mono, 1, false), Gate: openGate{}, Sink: sink})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return sink.all()
}
