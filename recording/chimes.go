package recording

import (
	"github.com/assent-app/assent/audio"
	"github.com/assent-app/assent/consent"
)

// Chimes decides which chime everyone on the call should hear when the
// phase changes (Config.Cue): start when the gate first opens, resume after
// a pause, pause when the gate closes (host pause or late joiner), stop at
// the end — but no pause or stop chime for a call that never recorded.
// Use one per call, from the Cue callback only (calls arrive in order).
type Chimes struct{ started bool }

// For returns the chime for the change from → to, or false for none.
func (c *Chimes) For(from, to consent.Phase) (audio.Chime, bool) {
	switch {
	case to == consent.PhaseRecording && from == consent.PhasePaused:
		return audio.ChimeResume, true
	case to == consent.PhaseRecording:
		c.started = true
		return audio.ChimeStart, true
	case c.started && from == consent.PhaseRecording && (to == consent.PhasePaused || to == consent.PhaseWaiting):
		return audio.ChimePause, true
	case c.started && to == consent.PhaseStopped:
		return audio.ChimeStop, true
	}
	return 0, false
}
