package audio

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/assent-app/assent/internal/testenv"
)

// lateSource is a Source read late by a fixed delay (a busy machine).
type lateSource struct {
	*PCMSource
	delay time.Duration
}

func (s lateSource) CaptureDelay() time.Duration { return s.delay }

// agesGate records the ages it is asked about and admits nothing.
type agesGate struct {
	mu   sync.Mutex
	ages []time.Duration
}

func (g *agesGate) Admit(int) bool {
	panic("Admit called although the source reports its capture delay")
}
func (g *agesGate) AdmitAged(_ int, age time.Duration) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.ages = append(g.ages, age)
	return false
}

// TestNoConsentNoAudio_GateJudgesEachBufferByItsCaptureTime: with a source
// that knows how late it reads, the pipeline asks the gate by the buffer's
// age (queued delay + its own 20 ms), never by the time it was read.
func TestNoConsentNoAudio_GateJudgesEachBufferByItsCaptureTime(t *testing.T) {
	src := lateSource{PCMSource: NewPCMSource(SpeechLike(1, 7), 1, false), delay: 700 * time.Millisecond}
	g := &agesGate{}
	sink := &memSink{}
	p, err := NewPipeline(PipelineConfig{Source: src, Gate: g, Sink: sink})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(g.ages) != SampleRate/FrameSize {
		t.Fatalf("the gate was asked %d times for 1 s of audio", len(g.ages))
	}
	for _, a := range g.ages {
		if a != 720*time.Millisecond {
			t.Fatalf("age %v, want 720 ms (700 ms queued + 20 ms of buffer)", a)
		}
	}
	if st := p.Stats(); st.Admitted != 0 {
		t.Fatalf("admitted %d frames through a closed gate", st.Admitted)
	}
}

// TestRealCaptureDelayMeasuresALateReader: real PortAudio capture from the
// sound server reports how far behind its reader is — about the time the
// reader stalled — and little once it has caught up. This is the age the
// consent gate judges each buffer by.
func TestRealCaptureDelayMeasuresALateReader(t *testing.T) {
	testenv.RequirePulse(t)
	src, err := OpenCapture(CaptureConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if err := src.Start(); err != nil {
		t.Fatal(err)
	}
	clock := src.(CaptureClock)
	buf := make([]float32, FrameSize*src.Channels())
	read := func() {
		if err := src.Read(buf); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 25; i++ { // running, caught up
		read()
	}
	time.Sleep(300 * time.Millisecond) // the machine is busy: nobody reads
	read()
	late := clock.CaptureDelay()
	caught := late
	for i := 0; i < 100; i++ { // reading as fast as possible drains the queue
		read()
		caught = min(caught, clock.CaptureDelay())
	}
	t.Logf("capture delay after a 300 ms stall: %v; least after catching up: %v", late, caught)
	if late < 200*time.Millisecond || late > 1500*time.Millisecond {
		t.Fatalf("after a 300 ms stall the capture delay is %v, want about 300 ms", late)
	}
	if caught > late/2 {
		t.Fatalf("the capture delay stayed at %v (after the stall %v) while reading as fast as possible", caught, late)
	}
}
