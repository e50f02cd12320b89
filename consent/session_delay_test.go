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
	s := delayedSession(t, "r1", clock)
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

// TestNoConsentNoAudio_BufferCapturedBeforeConsentNeverAdmitted: a busy
// machine reads capture late, so a buffer read after consent (even after
// the open delay) may have been captured before it. Judged by its age, it
// is dropped; a buffer captured after the opening is admitted.
func TestNoConsentNoAudio_BufferCapturedBeforeConsentNeverAdmitted(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s := delayedSession(t, "r1", clock)
	if s.AdmitAged(960, 0) {
		t.Fatal("admitted before consent")
	}
	if _, err := s.Apply(Event{Type: ConsentGiven, Participant: "a", Method: OnScreen}); err != nil {
		t.Fatal(err)
	}
	// 500 ms after consent, past the open delay, the reader is 700 ms late:
	// this buffer began 200 ms before consent.
	now = now.Add(500 * time.Millisecond)
	if s.AdmitAged(960, 700*time.Millisecond) || s.Offset() != 0 {
		t.Fatal("admitted a buffer captured before consent because it was read after it")
	}
	// Within the open delay even a fresh buffer waits (the sound server's
	// own latency is not in the age).
	s2 := delayedSession(t, "r2", clock)
	if _, err := s2.Apply(Event{Type: ConsentGiven, Participant: "a", Method: OnScreen}); err != nil {
		t.Fatal(err)
	}
	if s2.AdmitAged(960, 0) {
		t.Fatal("admitted within the open delay")
	}
	// Caught up: a buffer that began 20 ms before now, 500 ms after consent.
	if !s.AdmitAged(960, 20*time.Millisecond) || s.Offset() != 960 {
		t.Fatal("a buffer captured after consent was not admitted")
	}
	// Withdrawn: nothing, however fresh.
	if _, err := s.Apply(Event{Type: ConsentWithdrawn, Participant: "a", Method: OnScreen}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Second)
	if s.AdmitAged(960, 0) {
		t.Fatal("admitted after withdrawal")
	}
}

// delayedSession is a session with a 300 ms open delay on clock, one
// participant added, recording requested and age confirmed: the next
// ConsentGiven opens the gate.
func delayedSession(t *testing.T, id string, clock func() time.Time) *Session {
	t.Helper()
	s, err := NewSession(Config{RecordingID: id, Notices: testSet(t), Signer: testKey(t, 1), Now: clock, OpenDelay: 300 * time.Millisecond})
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
	return s
}
