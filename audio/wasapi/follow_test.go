package wasapi

import (
	"errors"
	"testing"
	"time"
)

// fakeOutput is one output device: while open it "plays" a constant level
// v in real time (by the test's clock), or nothing when silent.
type fakeOutput struct {
	v         float32
	silent    bool
	clock     *time.Time
	opened    time.Time
	delivered int64
	failAt    time.Time // Drain fails from then on (unplugged)
	closed    bool
}

func (o *fakeOutput) Drain(dst []float32) ([]float32, error) {
	if !o.failAt.IsZero() && !o.clock.Before(o.failAt) {
		return dst, errors.New("the output device was removed")
	}
	n := int64(o.clock.Sub(o.opened)) * SampleRate / int64(time.Second)
	for ; o.delivered < n; o.delivered++ {
		if !o.silent {
			dst = append(dst, o.v)
		}
	}
	return dst, nil
}

func (o *fakeOutput) Close() { o.closed = true }

// fakeEndpoints is the system's list of outputs and which is the default.
type fakeEndpoints struct {
	clock   *time.Time
	def     string
	levels  map[string]float32
	refuse  error // Open fails with it
	opened  map[string][]*fakeOutput
	defErrs error // DefaultID fails with it
}

func (e *fakeEndpoints) DefaultID() (string, error) { return e.def, e.defErrs }

func (e *fakeEndpoints) Open(id string) (capture, error) {
	if e.refuse != nil {
		return nil, e.refuse
	}
	o := &fakeOutput{v: e.levels[id], silent: e.levels[id] == 0, clock: e.clock, opened: *e.clock}
	e.opened[id] = append(e.opened[id], o)
	return o, nil
}

func (e *fakeEndpoints) last(id string) *fakeOutput {
	os := e.opened[id]
	if len(os) == 0 {
		return nil
	}
	return os[len(os)-1]
}

// take empties the queue into a slice (what Read would hand out).
func take(q *queue) []float32 {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := append([]float32(nil), q.buf...)
	q.buf = q.buf[:0]
	return out
}

// TestLoopbackFollowsDefaultOutput: the capture moves to the new default
// output (a headset plugged in) within one poll, closes the old one,
// reopens after the device fails (unplugged), keeps the old device when the
// new one refuses to open, and through all of it hands out exactly one
// sample per 1/48000 s — silence where nothing played or no device was
// open — so the call channel keeps step with the microphone.
func TestLoopbackFollowsDefaultOutput(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	now := t0
	ep := &fakeEndpoints{clock: &now, def: "speakers", opened: map[string][]*fakeOutput{},
		levels: map[string]float32{"speakers": 0.25, "headset": 0.5, "usb": 0.75}}
	f := &follower{ep: ep, q: newQueue()}
	if err := f.begin(now); err != nil {
		t.Fatal(err)
	}
	var got []float32
	run := func(until time.Duration) {
		for now.Sub(t0) < until {
			now = now.Add(tick)
			f.step(now)
			got = append(got, take(f.q)...)
		}
	}
	// The call channel holds one sample per sample time, give or take what
	// is still in flight (padAfter) — never more than a tick ahead.
	inStep := func(when string) {
		t.Helper()
		want := int64(now.Sub(t0)) * SampleRate / int64(time.Second)
		if n := int64(len(got)); n > want+int64(tick)*SampleRate/int64(time.Second) || n < want-int64(padAfter)*SampleRate/int64(time.Second) {
			t.Fatalf("%s: %d samples after %v, want about %d", when, n, now.Sub(t0), want)
		}
	}

	run(time.Second)
	inStep("speakers")
	if got[len(got)-1] != 0.25 {
		t.Fatalf("captured %v from the speakers, want 0.25", got[len(got)-1])
	}

	// A headset is plugged in and becomes the default output.
	ep.def = "headset"
	switched := now
	for ep.last("headset") == nil && now.Sub(switched) < 2*pollEvery {
		run(now.Sub(t0) + tick)
	}
	if ep.last("headset") == nil {
		t.Fatal("the new default output was not opened")
	}
	if d := now.Sub(switched); d > pollEvery+tick {
		t.Fatalf("followed the new default after %v, want within %v", d, pollEvery+tick)
	}
	if !ep.last("speakers").closed || f.switches.Load() != 1 {
		t.Fatalf("old output closed %v, switches %d; want true, 1", ep.last("speakers").closed, f.switches.Load())
	}
	run(now.Sub(t0) + 200*time.Millisecond)
	inStep("headset")
	if got[len(got)-1] != 0.5 {
		t.Fatalf("captured %v after the switch, want the headset's 0.5", got[len(got)-1])
	}

	// The headset is unplugged: its capture fails, the speakers are the
	// default again and are reopened at once.
	ep.def = "speakers"
	ep.last("headset").failAt = now.Add(tick)
	run(now.Sub(t0) + 3*tick)
	if o := ep.last("speakers"); len(ep.opened["speakers"]) != 2 || o.closed {
		t.Fatalf("after the headset failed the speakers were not reopened (%d opens)", len(ep.opened["speakers"]))
	}
	if !ep.last("headset").closed || f.reopens.Load() != 1 {
		t.Fatalf("failed headset closed %v, reopens %d", ep.last("headset").closed, f.reopens.Load())
	}
	run(now.Sub(t0) + 200*time.Millisecond)
	inStep("speakers again")

	// A new default that cannot be opened: keep the device we have, say why.
	ep.def, ep.refuse = "usb", errors.New("the Windows Audio service is not running")
	run(now.Sub(t0) + 2*pollEvery)
	if ep.last("speakers").closed || ep.last("usb") != nil {
		t.Fatal("a refused new default closed the working capture")
	}
	if e, _ := f.lastErr.Load().(errBox); e.err == nil {
		t.Fatal("the refusal was not kept for the settings screen")
	}

	// Nothing can be opened at all (every output gone): silence, in step.
	ep.last("speakers").failAt = now
	run(now.Sub(t0) + time.Second)
	inStep("no output")
	for _, v := range got[len(got)-SampleRate/2:] {
		if v != 0 {
			t.Fatalf("with no output open the call channel holds %v, want silence", v)
		}
	}
	ep.refuse = nil
	run(now.Sub(t0) + pollEvery + tick)
	if ep.last("usb") == nil || f.id != "usb" {
		t.Fatalf("once it could be opened the default output was not captured (now %q)", f.id)
	}
	f.stop()
	if !ep.last("usb").closed {
		t.Fatal("stop left the capture open")
	}
}

// TestLoopbackPadsWhenNothingPlays: Windows delivers no loopback packets
// while nothing plays; the call channel is then silence at the sample rate,
// never a Read that waits for packets that will not come.
func TestLoopbackPadsWhenNothingPlays(t *testing.T) {
	t0 := time.Now()
	now := t0
	ep := &fakeEndpoints{clock: &now, def: "quiet", opened: map[string][]*fakeOutput{}, levels: map[string]float32{}}
	f := &follower{ep: ep, q: newQueue()}
	if err := f.begin(now); err != nil {
		t.Fatal(err)
	}
	var n int
	for now.Sub(t0) < 2*time.Second {
		now = now.Add(tick)
		f.step(now)
		for _, v := range take(f.q) {
			if v != 0 {
				t.Fatalf("padding %v, want 0", v)
			}
			n++
		}
	}
	want := int(2*time.Second-padAfter) * SampleRate / int(time.Second)
	if n != want {
		t.Fatalf("%d samples of silence in 2 s, want %d (2 s less padAfter)", n, want)
	}
}

// TestLoopbackReadsInStepFromStart: through Open's machinery (the capture
// goroutine, Start, Read, Close) with a fake output playing 0.5: Start
// drops what was captured before it, the first Read keeps only the newest
// buffer, reads come at the sample rate, and a Read after Close fails.
func TestLoopbackReadsInStepFromStart(t *testing.T) {
	ep := &liveEndpoints{}
	l, err := runLoopback(func() (endpoints, func(), error) { return ep, func() {}, nil }, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // captured before Start: dropped
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]float32, FrameSize)
	start := time.Now()
	for i := 0; i < 20; i++ {
		if err := l.Read(buf); err != nil {
			t.Fatal(err)
		}
	}
	if buf[FrameSize-1] != 0.5 {
		t.Fatalf("read %v, want the output's 0.5", buf[FrameSize-1])
	}
	// Twenty buffers are 400 ms of audio: they cannot all have been there
	// at once (the first Read kept one buffer), so Read waited for the
	// clock. The bound leaves 200 ms for a starved capture goroutine.
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Fatalf("20 buffers read in %v: the call channel ran ahead of real time", d)
	}
	l.Close()
	if err := l.Read(buf); !errors.Is(err, errClosed) {
		t.Fatalf("Read after Close: %v", err)
	}
	if !ep.out.closed {
		t.Fatal("Close left the device open")
	}
}

// liveEndpoints is one output playing 0.5 in real time.
type liveEndpoints struct{ out *liveOutput }

type liveOutput struct {
	opened    time.Time
	delivered int64
	closed    bool
}

func (e *liveEndpoints) DefaultID() (string, error) { return "speakers", nil }
func (e *liveEndpoints) Open(string) (capture, error) {
	e.out = &liveOutput{opened: time.Now()}
	return e.out, nil
}

func (o *liveOutput) Drain(dst []float32) ([]float32, error) {
	n := int64(time.Since(o.opened)) * SampleRate / int64(time.Second)
	for ; o.delivered < n; o.delivered++ {
		dst = append(dst, 0.5)
	}
	return dst, nil
}

func (o *liveOutput) Close() { o.closed = true }
