package recording

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/assent-app/assent/audio"
	"github.com/assent-app/assent/consent"
)

func TestNoConsentNoAudio_HoldForJoinClosesGateBeforeTheName(t *testing.T) {
	st := &memStore{}
	c, pub := newCall(t, st)
	ana, _, err := c.AddParticipant(consent.Principal{Name: "Ana Host", Lang: "en"})
	if err != nil {
		t.Fatal(err)
	}
	must(t)(c.RequestRecording())
	must(t)(c.Decide(ana, Decision{Agree: true, AgeConfirmed: true}))
	waitAdmitted(t, c, 10*960)
	s, err := c.HoldForJoin()
	if err != nil || s.GateOpen || s.Last != consent.RecordingPaused {
		t.Fatalf("after HoldForJoin: %+v %v", s, err)
	}
	held := c.Stats().Admitted
	time.Sleep(60 * time.Millisecond) // the host types the name
	if c.Stats().Admitted != held {
		t.Fatal("audio admitted while the host typed who joined")
	}
	cem, rejoined, s, err := c.Joined(consent.Principal{Name: "Cem", Email: "cem@example.de", Lang: "de"})
	if err != nil || rejoined || s.GateOpen || s.Phase != consent.PhaseWaiting || !c.Late(cem) {
		t.Fatalf("after Joined: %s %v %+v %v", cem, rejoined, s, err)
	}
	time.Sleep(60 * time.Millisecond)
	if c.Stats().Admitted != held {
		t.Fatal("audio admitted before the joiner agreed")
	}
	must(t)(c.Decide(cem, Decision{Agree: true, AgeConfirmed: true, Lang: "de"}))
	waitAdmitted(t, c, held+5*960)
	if _, err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	rec, err := consent.Parse(st.last())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := consent.VerifyRecord(rec, pub); err != nil {
		t.Fatal(err)
	}
	var pauseAt, addAt, givenAt int64 = -1, -1, -1
	for _, e := range rec.Events {
		switch {
		case e.Type == consent.RecordingPaused && e.Reason == ReasonJoining:
			pauseAt = e.Offset
		case e.Type == consent.ParticipantAdded && e.Participant == cem:
			addAt = e.Offset
			if e.Principal.Email != "cem@example.de" || e.Principal.Lang != "de" {
				t.Errorf("the late joiner's principal lacks e-mail or language: %+v", e.Principal)
			}
		case e.Type == consent.ConsentGiven && e.Participant == cem:
			givenAt = e.Offset
		}
	}
	if pauseAt < 0 || pauseAt != addAt || addAt != givenAt {
		t.Fatalf("offsets: paused %d, added %d, agreed %d; nothing may be admitted in between", pauseAt, addAt, givenAt)
	}
}

func TestCancelJoinResumes(t *testing.T) {
	c, _ := newCall(t, &memStore{})
	ana, _, _ := c.AddParticipant(consent.Principal{Name: "Ana", Lang: "en"})
	must(t)(c.RequestRecording())
	must(t)(c.Decide(ana, Decision{Agree: true, AgeConfirmed: true}))
	must(t)(c.HoldForJoin())
	if s, err := c.CancelJoin(); err != nil || !s.GateOpen {
		t.Fatalf("after CancelJoin: %+v %v", s, err)
	}
	// A host pause is not undone by a cancelled join.
	must(t)(c.Pause())
	must(t)(c.HoldForJoin())
	if s, _ := c.CancelJoin(); s.Phase != consent.PhasePaused {
		t.Fatalf("a cancelled join resumed a host pause: %s", s.Phase)
	}
}

func TestRejoinIsParticipantJoined(t *testing.T) {
	c, _ := newCall(t, &memStore{})
	ana, _, _ := c.AddParticipant(consent.Principal{Name: "Ana", Lang: "en"})
	bob, _, _ := c.AddParticipant(consent.Principal{Name: "Bob Buyer", Email: "bob@example.com", Lang: "en"})
	must(t)(c.RequestRecording())
	must(t)(c.Decide(ana, Decision{Agree: true, AgeConfirmed: true}))
	must(t)(c.Decide(bob, Decision{Agree: true, AgeConfirmed: true}))
	if _, _, _, err := c.Joined(consent.Principal{Name: "bob buyer", Lang: "en"}); !errors.Is(err, ErrAlreadyPresent) {
		t.Fatalf("joining someone present: %v", err)
	}
	must(t)(c.Leave(bob))
	id, rejoined, s, err := c.Joined(consent.Principal{Name: "Robert", Email: "BOB@example.com", Lang: "en"})
	if err != nil || id != bob || !rejoined || s.Last != consent.ParticipantJoined || !s.GateOpen {
		t.Fatalf("rejoin: %s %v %+v %v", id, rejoined, s, err)
	}
	if n := len(s.Participants); n != 2 {
		t.Fatalf("a rejoin added a participant: %d", n)
	}
}

func TestFindByNumberFirstOrFullName(t *testing.T) {
	c, _ := newCall(t, &memStore{})
	for _, n := range []string{"Ana Silva", "Ana Costa", "Bob Buyer"} {
		if _, _, err := c.AddParticipant(consent.Principal{Name: n, Lang: "en"}); err != nil {
			t.Fatal(err)
		}
	}
	for q, want := range map[string]string{"3": "Bob Buyer", "bob": "Bob Buyer", "ana  costa": "Ana Costa", "p1": "Ana Silva"} {
		p, err := c.Find(q)
		if err != nil || p.Principal.Name != want {
			t.Errorf("Find(%q) = %q, %v; want %s", q, p.Principal.Name, err, want)
		}
	}
	var amb *AmbiguousError
	if _, err := c.Find("ana"); !errors.As(err, &amb) || len(amb.Names) != 2 {
		t.Errorf("Find(ana): %v, want ambiguous between two", err)
	}
	for _, q := range []string{"", "4", "0", "Carl"} {
		if _, err := c.Find(q); err == nil {
			t.Errorf("Find(%q) found someone", q)
		}
	}
}

func TestVerbalConsentNeverSelfAttested(t *testing.T) {
	c, _ := newCall(t, &memStore{})
	host, _, _ := c.AddParticipant(consent.Principal{Name: "Ana", Lang: "en"})
	bob, _, _ := c.AddParticipant(consent.Principal{Name: "Bob", Lang: "nl"})
	if _, err := c.Decide(host, Decision{Agree: true, AgeConfirmed: true, Method: consent.VerbalAttested}); !errors.Is(err, ErrOwnAttestation) {
		t.Fatalf("host attesting themself: %v", err)
	}
	must(t)(c.Decide(host, Decision{Agree: true, AgeConfirmed: true}))
	s, err := c.Decide(bob, Decision{Agree: true, AgeConfirmed: true, Method: consent.VerbalAttested})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range s.Participants {
		if p.ID == bob && (p.Consent != consent.StatusGiven || p.Method != consent.VerbalAttested) {
			t.Fatalf("Bob: %+v", p)
		}
	}
}

func TestNoConsentNoAudio_UnderAgeIsARefusalAndTheEmptyCallIsDiscarded(t *testing.T) {
	st := &memStore{}
	pubCall, _ := newCall(t, st)
	discarded := 0
	pubCall.cfg.Discard = func() error { discarded++; return nil }
	ana, _, _ := pubCall.AddParticipant(consent.Principal{Name: "Ana", Lang: "en"})
	if out := pubCall.Outcome(); out.Reason != NotEnded {
		t.Fatalf("outcome while running: %+v", out)
	}
	s, err := pubCall.Decide(ana, Decision{Agree: true, AgeConfirmed: false})
	if err != nil || s.Phase != consent.PhaseStopped {
		t.Fatalf("under age: %+v %v", s, err)
	}
	out := pubCall.Outcome()
	if out.Reason != RefusedBy || out.Who != "Ana" || out.Kept || discarded != 1 {
		t.Fatalf("outcome %+v, discarded %d", out, discarded)
	}
	rec, err := consent.Parse(st.last())
	if err != nil {
		t.Fatal(err)
	}
	// The record ends with the refusal and RecordingStopped; only
	// SegmentSealed events (the stream's last segment, sealed when the
	// pipeline closes after RecordingStopped) may follow.
	n := len(rec.Events)
	for n > 0 && rec.Events[n-1].Type == consent.SegmentSealed {
		n--
	}
	if n < 2 || rec.Events[n-1].Type != consent.RecordingStopped {
		t.Fatalf("the record does not end with RecordingStopped: %+v", rec.Events)
	}
	last := rec.Events[n-2]
	if last.Type != consent.ConsentRefused || last.Reason != ReasonUnderAge {
		t.Fatalf("the record says %s %q", last.Type, last.Reason)
	}
	// Reading the state twice changes nothing.
	if a, b := pubCall.State(), pubCall.State(); a.Seq != b.Seq {
		t.Fatal("reading the state changed it")
	}
	if _, err := pubCall.Stop(); err != nil || discarded != 1 {
		t.Fatalf("a second Stop: %v, discarded %d", err, discarded)
	}
}

func TestBeginRollsBackOnFailure(t *testing.T) {
	st := &memStore{failRec: errors.New("disk full")}
	good, _ := newCall(t, &memStore{})
	_, _ = good.Stop() // only its configuration is used below
	cfg := good.cfg
	cfg.Source = slowSource{audio.NewPCMSource(audio.SpeechLike(5, 3), 1, true)}
	cfg.Store = st
	discarded := 0
	cfg.Discard = func() error { discarded++; return nil }
	if _, _, err := Begin(cfg, []consent.Principal{{Name: "Ana", Lang: "en"}}); err == nil || discarded != 1 {
		t.Fatalf("Begin over a failing store: %v, discarded %d", err, discarded)
	}
	cfg.Store = &memStore{}
	cfg.Source = slowSource{audio.NewPCMSource(audio.SpeechLike(5, 4), 1, true)}
	discarded = 0
	if _, _, err := Begin(cfg, []consent.Principal{{Name: "Ana", Lang: "en"}, {Name: "Bob", Lang: "xx"}}); err == nil || discarded != 1 {
		t.Fatalf("Begin with a participant whose language has no notice: %v, discarded %d", err, discarded)
	}
}

// TestNoConsentNoAudio_StartAgreedWaitsForEveryone: the app's "Start
// recording" is refused, naming who is still to answer, until everyone
// present agreed; then the gate opens.
func TestNoConsentNoAudio_StartAgreedWaitsForEveryone(t *testing.T) {
	c, _ := newCall(t, &memStore{})
	ana, _, _ := c.AddParticipant(consent.Principal{Name: "Ana", Lang: "en"})
	bob, _, _ := c.AddParticipant(consent.Principal{Name: "Bob de Vries", Lang: "nl"})
	must(t)(c.Decide(ana, Decision{Agree: true, AgeConfirmed: true}))
	if s, err := c.StartAgreed(); err == nil || !strings.Contains(err.Error(), "Bob de Vries") || s.GateOpen {
		t.Fatalf("start before Bob agreed: %v (gate open %v)", err, s.GateOpen)
	}
	must(t)(c.Decide(bob, Decision{Agree: true, AgeConfirmed: true}))
	if s, err := c.StartAgreed(); err != nil || !s.GateOpen {
		t.Fatalf("start after everyone agreed: %v (gate open %v)", err, s.GateOpen)
	}
}
