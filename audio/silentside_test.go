package audio

import (
	"context"
	"testing"
)

// feed measures seconds of stereo audio built from left and right (mono
// signals, looped; nil = digital silence) buffer by buffer.
func feed(m *Meters, seconds float64, left, right []float32, pos *int) {
	buf := make([]float32, 2*FrameSize)
	for b := 0; b < int(seconds*SampleRate/FrameSize); b++ {
		for i := 0; i < FrameSize; i++ {
			var l, r float32
			if left != nil {
				l = left[(*pos+i)%len(left)]
			}
			if right != nil {
				r = right[(*pos+i)%len(right)]
			}
			buf[2*i], buf[2*i+1] = l, r
		}
		*pos += FrameSize
		m.measure(buf)
	}
}

func TestSilentSideWarning(t *testing.T) {
	speech := SpeechLike(30, 7)
	t.Run("call silent after 20 s of the rep speaking", func(t *testing.T) {
		m, pos := NewMeters(2), 0
		feed(m, 19.5, speech, nil, &pos)
		if got := m.SilentSide(); got != BothSidesHeard {
			t.Fatalf("after 19.5 s: %v, want no warning yet", got)
		}
		feed(m, 1, speech, nil, &pos)
		if got := m.SilentSide(); got != CallSilent {
			t.Fatalf("after 20.5 s: %v, want CallSilent", got)
		}
		if msg := m.SilentSide().Message(); msg != "The other side of the call is silent — is the call playing through this computer?" {
			t.Fatalf("message %q", msg)
		}
		feed(m, 0.5, speech, speech, &pos)
		if got := m.SilentSide(); got != BothSidesHeard {
			t.Fatalf("the call was heard again, still %v", got)
		}
	})
	t.Run("microphone silent while the call speaks", func(t *testing.T) {
		m, pos := NewMeters(2), 0
		feed(m, 21, nil, speech, &pos)
		if got := m.SilentSide(); got != MicSilent || got.Message() == "" {
			t.Fatalf("%v %q, want MicSilent with a message", got, got.Message())
		}
	})
	t.Run("nobody speaks: no warning", func(t *testing.T) {
		m, pos := NewMeters(2), 0
		feed(m, 25, nil, nil, &pos)
		if got := m.SilentSide(); got != BothSidesHeard {
			t.Fatalf("%v, want none (a pause in the call is not a missing side)", got)
		}
	})
	t.Run("both speak: no warning", func(t *testing.T) {
		m, pos := NewMeters(2), 0
		feed(m, 25, speech, SpeechLike(30, 9), &pos)
		if got := m.SilentSide(); got != BothSidesHeard {
			t.Fatalf("%v", got)
		}
	})
	t.Run("mono never warns", func(t *testing.T) {
		m := NewMeters(1)
		for i := 0; i < 1500; i++ {
			m.measure(speech[:FrameSize])
		}
		if got := m.SilentSide(); got != BothSidesHeard {
			t.Fatalf("%v", got)
		}
	})
}

// TestSilentSideThroughThePipeline: a stereo source whose call channel is
// silent raises the warning on the pipeline's meters.
func TestSilentSideThroughThePipeline(t *testing.T) {
	mono := SpeechLike(22, 3)
	st := make([]float32, 2*len(mono))
	for i, v := range mono {
		st[2*i] = v
	}
	p, err := NewPipeline(PipelineConfig{Source: NewPCMSource(st, 2, false), Gate: openGate{}, Sink: &memSink{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := p.Meters().SilentSide(); got != CallSilent {
		t.Fatalf("%v, want CallSilent", got)
	}
}
