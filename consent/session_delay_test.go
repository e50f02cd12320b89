package consent

import (
	"testing"
	"time"
)

// TestNoConsentNoAudio_OpenDelayDropsWhatWasReadJustAfterConsent: with an
// open delay, buffers read right after the gate opened (possibly captured
// before) are dropped; afterwards audio is admitted; a delay never admits
// anything while the gate is closed.
func TestNoConsentNoAudio_OpenDelayDropsWhatWasReadJustAfterConsent(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	set := testSet(t)
	s, err := NewSession(Config{RecordingID: "r1", Notices: set, Signer: testKey(t, 1), Now: clock, OpenDelay: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []Event{
		{Type: ParticipantAdded, Participant: "a", Principal: &Principal{Name: "Ana", Lang: "en"}},
		{Type: RecordingRequested},
		{Type: AgeConfirmed, Participant: "a", Method: OnScreen},
	} {
		if _, err := s.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
	if s.Admit(960) {
		t.Fatal("admitted before consent")
	}
	if st, err := s.Apply(Event{Type: ConsentGiven, Participant: "a", Method: OnScreen}); err != nil || !st.GateOpen {
		t.Fatalf("consent: %v %+v", err, st)
	}
	now = now.Add(299 * time.Millisecond)
	if s.Admit(960) || s.Offset() != 0 {
		t.Fatal("admitted a buffer read within the open delay")
	}
	now = now.Add(2 * time.Millisecond)
	if !s.Admit(960) || s.Offset() != 960 {
		t.Fatal("nothing admitted after the open delay")
	}
	if _, err := NewSession(Config{RecordingID: "r1", Notices: set, Signer: testKey(t, 1), OpenDelay: -time.Second}); err == nil {
		t.Fatal("a negative open delay was accepted")
	}
}
