package consent

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"math/rand"
	"testing"
)

// refModel is an independent, deliberately naive model of the consent
// rules, used to check Session and Verify.
type refModel struct {
	parts                               map[string]*refPart
	order                               []string
	requested, paused, stopped, refused bool
}

type refPart struct {
	present, given, age bool
}

func (m *refModel) mayRecord() bool {
	if !m.requested || m.paused || m.stopped || m.refused {
		return false
	}
	n := 0
	for _, id := range m.order {
		p := m.parts[id]
		if p.present {
			n++
			if !p.given || !p.age {
				return false
			}
		}
	}
	return n > 0
}

func (m *refModel) present() []string {
	var out []string
	for _, id := range m.order {
		if m.parts[id].present {
			out = append(out, id)
		}
	}
	return out
}

// apply mirrors an event the session accepted.
func (m *refModel) apply(e Event) {
	p := m.parts[e.Participant]
	switch e.Type {
	case ParticipantAdded:
		m.parts[e.Participant] = &refPart{present: true}
		m.order = append(m.order, e.Participant)
	case ParticipantJoined:
		p.present = true
	case ParticipantLeft:
		p.present = false
	case ConsentGiven:
		p.given = true
	case ConsentRefused:
		p.given = false
		m.refused = true
	case ConsentWithdrawn:
		p.given = false
	case AgeConfirmed:
		p.age = true
	case RecordingRequested:
		m.requested = true
	case RecordingPaused:
		m.paused = true
	case RecordingResumed:
		m.paused = false
	case RecordingStopped:
		m.stopped = true
	}
}

type admitted struct {
	from, to int64
	present  []string
}

func randomEvent(rng *rand.Rand, m *refModel, refusals bool) Event {
	ids := []string{"a", "b", "c", "d", "e"}
	id := ids[rng.Intn(len(ids))]
	if len(m.order) > 0 && rng.Intn(10) < 8 {
		id = m.order[rng.Intn(len(m.order))] // mostly someone who exists
	}
	method := []Method{OnScreen, Remote, VerbalAttested}[rng.Intn(3)]
	attest := ""
	if method == VerbalAttested {
		attest = ids[rng.Intn(len(ids))]
		if pr := m.present(); len(pr) > 0 && rng.Intn(4) > 0 {
			attest = pr[rng.Intn(len(pr))]
		}
	}
	langs := []string{"en", "nl", "de", "fr", "es"} // no Spanish notice: rejected
	switch k := rng.Intn(100); {
	case k < 10:
		return Event{Type: ParticipantAdded, Participant: id, Principal: &Principal{Name: "Person " + id, Lang: langs[rng.Intn(len(langs))]}}
	case k < 16:
		return Event{Type: ParticipantJoined, Participant: id}
	case k < 22:
		return Event{Type: ParticipantLeft, Participant: id}
	case k < 26:
		return Event{Type: ConsentRequested, Participant: id}
	case k < 50:
		return Event{Type: ConsentGiven, Participant: id, Method: method, AttestedBy: attest}
	case k < 51 && refusals:
		return Event{Type: ConsentRefused, Participant: id, Method: method, AttestedBy: attest}
	case k < 60:
		return Event{Type: ConsentWithdrawn, Participant: id, Method: method, AttestedBy: attest}
	case k < 80:
		return Event{Type: AgeConfirmed, Participant: id, Method: method, AttestedBy: attest}
	case k < 88:
		return Event{Type: RecordingRequested}
	case k < 93:
		return Event{Type: RecordingPaused}
	case k < 99:
		return Event{Type: RecordingResumed}
	}
	return Event{Type: RecordingStopped}
}

// TestNoConsentNoAudio_PropertyRandomSessions drives thousands of random
// event sequences interleaved with audio buffers through a Session and
// checks against an independent model that the gate is open exactly when
// every present participant has live consent and age confirmation, and
// that the spans Verify computes from the signed record are exactly the
// admitted audio — never a frame after a withdrawal, a refusal, a pause or
// before a joiner's consent.
func TestNoConsentNoAudio_PropertyRandomSessions(t *testing.T) {
	key := testKey(t, 7)
	pub := key.Public().(ed25519.PublicKey)
	seeds := 2000
	if raceEnabled {
		seeds = 1000
	}
	if testing.Short() {
		seeds = 300
	}
	opened, closedAfterOpen := 0, 0
	for seed := 1; seed <= seeds; seed++ {
		rng := rand.New(rand.NewSource(int64(seed)))
		s := newTestSession(t, key, fmt.Sprintf("prop-%d", seed))
		m := &refModel{parts: map[string]*refPart{}}
		var got []admitted
		var off int64
		steps := 30 + rng.Intn(120)
		for i := 0; i < steps && !m.stopped; i++ {
			if rng.Intn(3) == 0 {
				e := randomEvent(rng, m, seed%4 == 0)
				if _, err := s.Apply(e); err == nil {
					m.apply(e)
				} else if !errors.Is(err, ErrTransition) && !errors.Is(err, ErrNoNotice) {
					t.Fatalf("seed %d: unexpected error kind: %v", seed, err)
				}
				continue
			}
			frames := 1 + rng.Intn(2000)
			ok := s.Admit(frames)
			if ok != m.mayRecord() {
				t.Fatalf("seed %d step %d: gate open=%v, model says %v (present %v)", seed, i, ok, m.mayRecord(), m.present())
			}
			if !ok && opened > 0 {
				closedAfterOpen++
			}
			if ok {
				opened++
				for _, id := range m.present() {
					if p := m.parts[id]; !p.given || !p.age {
						t.Fatalf("seed %d: admitted audio while %s lacks consent", seed, id)
					}
				}
				got = append(got, admitted{off, off + int64(frames), m.present()})
				off += int64(frames)
			}
		}
		if s.Offset() != off {
			t.Fatalf("seed %d: session offset %d, admitted %d", seed, s.Offset(), off)
		}
		if !m.stopped {
			if _, err := s.Apply(Event{Type: RecordingStopped}); err != nil {
				t.Fatal(err)
			}
		}
		sealUpTo(t, s)
		b, err := s.Record()
		if err != nil {
			t.Fatal(err)
		}
		p, err := Verify(b, pub)
		if err != nil {
			t.Fatalf("seed %d: own record does not verify: %v", seed, err)
		}
		if p.FinalOffset != off || !p.Final {
			t.Fatalf("seed %d: final offset %d (final %v), admitted %d", seed, p.FinalOffset, p.Final, off)
		}
		want := mergeAdmitted(got)
		// Spans split where the same people's consent changed (e.g. a
		// withdrawal and a new consent with no audio between); compare by
		// who was present.
		var spans []admitted
		for _, sp := range p.Spans {
			var ids []string
			for _, pp := range sp.Participants {
				ids = append(ids, pp.ID)
				if pp.Notice.SHA256 == "" || pp.Method == "" {
					t.Fatalf("seed %d: span participant without notice or method: %+v", seed, pp)
				}
			}
			spans = append(spans, admitted{sp.From, sp.To, ids})
		}
		spans = mergeAdmitted(spans)
		if len(want) != len(spans) {
			t.Fatalf("seed %d: %d spans, want %d\n got %+v\nwant %+v", seed, len(p.Spans), len(want), p.Spans, want)
		}
		for i, sp := range spans {
			if w := want[i]; fmt.Sprint(sp) != fmt.Sprint(w) {
				t.Fatalf("seed %d span %d: got %+v want %+v", seed, i, sp, w)
			}
		}
	}
	if opened == 0 {
		t.Fatal("the random sessions never opened the gate; the generator is useless")
	}
	if closedAfterOpen == 0 {
		t.Fatal("the gate never closed again after opening; the generator is useless")
	}
	t.Logf("%d sessions, %d admitted buffers, %d refused buffers", seeds, opened, closedAfterOpen)
}

func mergeAdmitted(in []admitted) []admitted {
	var out []admitted
	for _, a := range in {
		if k := len(out); k > 0 && out[k-1].to == a.from && fmt.Sprint(out[k-1].present) == fmt.Sprint(a.present) {
			out[k-1].to = a.to
			continue
		}
		out = append(out, a)
	}
	return out
}
