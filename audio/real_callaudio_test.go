package audio

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assent-app/assent/internal/pulsetest"
	"github.com/assent-app/assent/internal/testenv"
)

// captureWhile records src through the pipeline while play runs, then
// returns the decoded channels.
func captureWhile(t *testing.T, src Source, play func()) (*PCM, *Pipeline) {
	t.Helper()
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
		p.Stop()
		t.Fatal("no audio buffer within 10 s")
	}
	play()
	time.Sleep(500 * time.Millisecond)
	p.Stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	pcm, err := DecodeOggOpus(bytes.NewReader(sink.all()))
	if err != nil {
		t.Fatal(err)
	}
	return pcm, p
}

// TestRealDefaultsRecordBothSides: with no device named, the microphone is
// the sound server's default input (left) and the call is what the default
// output plays (right), found through the sound server.
func TestRealDefaultsRecordBothSides(t *testing.T) {
	testenv.RequirePulse(t)
	srv := pulsetest.Start(t)
	wavRep, rep := speechWAV(t, "This is me, the sales representative, speaking into my headset microphone.")
	wavFar, far := speechWAV(t, "And this is the customer on the far end, heard through the laptop speakers.")
	var ml, cr, mr, cl float64
	for attempt := 1; attempt <= 2; attempt++ { // the second-stream weakness of docs/audio.md
		src, err := OpenCapture(CaptureConfig{CallInput: CallOutput})
		if err != nil {
			t.Fatal(err)
		}
		if src.Channels() != 2 {
			t.Fatalf("%d channels, want 2", src.Channels())
		}
		if got := src.(*paSource).sources(); got[0] != "mic" || got[1] != "speakers.monitor" {
			t.Fatalf("captures %q, want the default input \"mic\" and the default output's monitor", got)
		}
		pcm, _ := captureWhile(t, src, func() {
			var wg sync.WaitGroup
			wg.Add(2)
			go func() { defer wg.Done(); srv.Play(t, "micsink", wavRep)() }()
			go func() { defer wg.Done(); srv.Play(t, "", wavFar)() }()
			wg.Wait()
		})
		left, right := toFloat(pcm.Channel(0)), toFloat(pcm.Channel(1))
		ml, _ = alignedCorrelation(rep, left, len(left))
		cl, _ = alignedCorrelation(far, left, len(left))
		cr, _ = alignedCorrelation(far, right, len(right))
		mr, _ = alignedCorrelation(rep, right, len(right))
		t.Logf("attempt %d: left~rep %.3f left~far %.3f | right~far %.3f right~rep %.3f", attempt, ml, cl, cr, mr)
		if ml > 0.9 && cr > 0.9 {
			break
		}
	}
	if ml <= 0.9 || cr <= 0.9 || cl >= 0.3 || mr >= 0.3 {
		t.Fatalf("left~rep %.3f (want > 0.9), left~far %.3f (< 0.3), right~far %.3f (> 0.9), right~rep %.3f (< 0.3)", ml, cl, cr, mr)
	}
}

// TestRealCallAudioFollowsDefaultOutput: the default output is switched with
// pactl set-default-sink mid-call. The far end's speech plays into both
// outputs at once (a combine sink), so the right channel must hold it whole
// across the switch: every voiced half second at the same position ± one
// buffer (no gap, no repeat). Speech played afterwards into the new output
// only is in the right channel; speech played into the old one is not.
func TestRealCallAudioFollowsDefaultOutput(t *testing.T) {
	testenv.RequirePulse(t)
	// An ALSA xrun on an overloaded machine drops a buffer of the far end
	// (the same weakness as the stereo test's, docs/audio.md): one retry,
	// and both attempts failing fails the test.
	retryOnce(t, func(tr *attempt) {
		srv := pulsetest.Start(t)
		wavFar, far := speechWAV(t, "Hello, this is the customer. I am going to keep talking while you plug in your headset, "+
			"and every word I say before and after the switch should be in your recording, in the right channel, without a gap.")
		wavNew, onNew := speechWAV(t, "Now I am only in your headset.")
		wavOld, onOld := speechWAV(t, "Music from another tab on the laptop speakers.")
		srv.Listen(t, "speakers.monitor")
		srv.Listen(t, "headset.monitor")
		src, err := OpenCapture(CaptureConfig{CallInput: CallOutput})
		if err != nil {
			t.Fatal(err)
		}
		ps := src.(*paSource)
		var switched time.Duration
		pcm, _ := captureWhile(t, src, func() {
			wait := srv.Play(t, "both", wavFar)
			time.Sleep(2500 * time.Millisecond)
			t0 := time.Now()
			srv.Pactl(t, "set-default-sink", "headset")
			for ps.Following()[1] != "headset.monitor" {
				if time.Since(t0) > 5*time.Second {
					tr.Errorf("capture did not follow the new default output within 5 s (captures %q)", ps.Following())
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			switched = time.Since(t0)
			wait()
			var wg sync.WaitGroup
			wg.Add(2)
			go func() { defer wg.Done(); srv.Play(t, "headset", wavNew)() }()
			go func() { defer wg.Done(); srv.Play(t, "speakers", wavOld)() }()
			wg.Wait()
			// paplay returns once the server has the samples, not once they
			// were heard: keep capturing while the sinks' latency drains, or
			// the last second of the short clips is never recorded.
			time.Sleep(2 * time.Second)
		})
		tr.Logf("capture followed the new default output %v after pactl set-default-sink; overflows %v", switched.Round(time.Millisecond), ps.Overflows())
		if ps.Switches() != 1 {
			tr.Fatalf("%d switches, want 1", ps.Switches())
		}
		right := toFloat(pcm.Channel(1))
		whole, lag := alignedCorrelation(far, right, len(right))
		// The rig's combine sink feeds its two outputs up to a buffer apart,
		// so the speech before and after the switch (2.5 s into it) is each
		// measured at its own alignment; each must be whole. (The pieces
		// below check there is no gap or repeat across the switch.)
		cut := 5 * SampleRate / 2
		before, _ := alignedCorrelation(far[:cut], right, len(right))
		after, _ := alignedCorrelation(far[cut:], right, len(right))
		tr.Logf("right channel ~ far end: %.3f before the switch, %.3f after (%.3f at one alignment)", before, after, whole)
		if before < 0.75 || after < 0.75 {
			tr.Errorf("the far end's speech is not whole in the right channel (%.3f before the switch, %.3f after)", before, after)
		}
		// Every voiced half second sits at the same lag ± one buffer.
		const piece = SampleRate / 2
		checked, worst := 0, 0
		for off := 0; off+piece <= len(far); off += piece {
			a := far[off : off+piece]
			if energy(a) < 0.2*energy(far) {
				continue // a pause: nothing to find
			}
			best, at := -2.0, 0
			for d := -3 * FrameSize; d <= 3*FrameSize; d += 4 {
				if c := correlationAt(a, right, off+lag+d); c > best {
					best, at = c, d
				}
			}
			for d := at - 3; d <= at+3; d++ {
				if c := correlationAt(a, right, off+lag+d); c > best {
					best, at = c, d
				}
			}
			checked++
			worst = max(worst, at, -at)
			// One buffer, plus 1 ms for how exactly a lag is found through Opus.
			if best < 0.8 || at < -FrameSize-48 || at > FrameSize+48 {
				tr.Errorf("far-end speech at %.1f s: correlation %.3f, shifted %d samples (a gap or repeat)", float64(off)/SampleRate, best, at)
			}
		}
		tr.Logf("%d voiced half seconds, largest shift %d samples (one buffer = %d)", checked, worst, FrameSize)
		if checked < 6 {
			tr.Fatalf("only %d voiced pieces checked", checked)
		}
		if c, _ := alignedCorrelation(onNew, right, len(right)); c < 0.85 {
			tr.Errorf("speech played into the new default output only: %.3f in the right channel, want > 0.85", c)
		}
		if c, _ := alignedCorrelation(onOld, right, len(right)); c > 0.3 {
			tr.Errorf("speech played into the old output after the switch is in the right channel (%.3f)", c)
		}
	})
}

// TestRealMicrophoneFollowsDefaultInput: the default input changes (a
// headset connects) during capture; the microphone channel follows it.
func TestRealMicrophoneFollowsDefaultInput(t *testing.T) {
	testenv.RequirePulse(t)
	srv := pulsetest.Start(t)
	wav, speech := speechWAV(t, "Now I am speaking into the new headset that was just connected.")
	src, err := OpenCapture(CaptureConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ps := src.(*paSource)
	if got := ps.Following()[0]; got != "mic" {
		t.Fatalf("captures %q, want the default input \"mic\"", got)
	}
	pcm, _ := captureWhile(t, src, func() {
		t0 := time.Now()
		srv.Pactl(t, "set-default-source", "headset.monitor")
		for ps.Following()[0] != "headset.monitor" {
			if time.Since(t0) > 5*time.Second {
				t.Fatalf("the microphone did not follow the new default input within 5 s (captures %q)", ps.Following())
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Logf("followed the new default input after %v", time.Since(t0).Round(time.Millisecond))
		srv.Play(t, "headset", wav)()
	})
	mono := toFloat(pcm.Channel(0))
	if c, _ := alignedCorrelation(speech, mono, len(mono)); c < 0.9 {
		t.Fatalf("speech into the new default input: correlation %.3f, want > 0.9", c)
	}
}

// attempt collects one try's failures so a test can retry once: Fatalf
// ends the try, not the test.
type attempt struct {
	t      *testing.T
	failed []string
}

type attemptAbort struct{}

func (a *attempt) Errorf(format string, args ...any) {
	a.failed = append(a.failed, fmt.Sprintf(format, args...))
}
func (a *attempt) Fatalf(format string, args ...any) {
	a.Errorf(format, args...)
	panic(attemptAbort{})
}
func (a *attempt) Logf(format string, args ...any) { a.t.Logf(format, args...) }

// retryOnce runs body up to twice; the test fails with the second try's
// failures if both fail.
func retryOnce(t *testing.T, body func(a *attempt)) {
	t.Helper()
	for try := 1; try <= 2; try++ {
		a := &attempt{t: t}
		func() {
			defer func() {
				if r := recover(); r != nil {
					if _, ok := r.(attemptAbort); !ok {
						panic(r)
					}
				}
			}()
			body(a)
		}()
		if len(a.failed) == 0 {
			return
		}
		t.Logf("attempt %d failed: %s", try, strings.Join(a.failed, "; "))
		if try == 2 {
			for _, f := range a.failed {
				t.Error(f)
			}
		}
	}
}
