package app

import (
	"testing"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

// TestNoConsentNoAudio_JoinFormHoldsTheGate: "Someone joined" closes the
// gate in the same tap, before the form asks who it is; cancelling the
// form resumes.
func TestNoConsentNoAudio_JoinFormHoldsTheGate(t *testing.T) {
	u, fb := newTestUI(t, true)
	startCall(t, u, "Alice")
	agree(t, u)
	ticks(fb, 10)
	test.Tap(el[*widget.Button](t, u, "joined"))
	before := u.call.State().Recorded
	ticks(fb, 50) // the host is still typing the name
	if got := u.call.State(); got.Recorded != before || got.Phase != PhaseHeld {
		t.Fatalf("while the join form is open: recorded %s → %s, phase %d", before, got.Recorded, got.Phase)
	}
	tapOverlayButton(t, u, "Cancel")
	ticks(fb, 10)
	if got := u.call.State(); got.Recorded != before+10*BufferDuration || got.Phase != PhaseRecording {
		t.Fatalf("after cancelling the form: recorded %s, phase %d", got.Recorded, got.Phase)
	}
}
