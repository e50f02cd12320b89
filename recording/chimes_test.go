package recording

import (
	"testing"

	"github.com/assent-app/assent/audio"
	"github.com/assent-app/assent/consent"
)

func TestChimesFollowTheRecording(t *testing.T) {
	var c Chimes
	if _, ok := c.For(consent.PhaseWaiting, consent.PhaseStopped); ok {
		t.Fatal("a stop chime for a call that never recorded")
	}
	steps := []struct {
		from, to consent.Phase
		want     audio.Chime
	}{
		{consent.PhaseWaiting, consent.PhaseRecording, audio.ChimeStart},
		{consent.PhaseRecording, consent.PhasePaused, audio.ChimePause},
		{consent.PhasePaused, consent.PhaseRecording, audio.ChimeResume},
		{consent.PhaseRecording, consent.PhaseWaiting, audio.ChimePause}, // late joiner
		{consent.PhaseWaiting, consent.PhaseRecording, audio.ChimeStart},
		{consent.PhaseRecording, consent.PhaseStopped, audio.ChimeStop},
	}
	for i, s := range steps {
		got, ok := c.For(s.from, s.to)
		if !ok || got != s.want {
			t.Fatalf("step %d %s→%s: got %v %v, want %v", i, s.from, s.to, got, ok, s.want)
		}
	}
}
