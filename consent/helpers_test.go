package consent

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"testing"
	"time"

	"github.com/assent-app/assent/assets"
)

var testOrg = OrgParams{Controller: "Acme Sales B.V.", Contact: "privacy@acme.example"}

func testKey(t testing.TB, seed byte) ed25519.PrivateKey {
	t.Helper()
	s := make([]byte, ed25519.SeedSize)
	for i := range s {
		s[i] = seed
	}
	return ed25519.NewKeyFromSeed(s)
}

func testSet(t testing.TB) *NoticeSet {
	t.Helper()
	set, err := NewLibrary(assets.Notices()).RenderSet(DefaultNoticeID, "1", testOrg)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// fakeClock advances one millisecond per call.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time {
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

func newTestSession(t testing.TB, key ed25519.PrivateKey, recID string) *Session {
	t.Helper()
	clk := &fakeClock{t: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	s, err := NewSession(Config{RecordingID: recID, RecordID: "rec-" + recID, Notices: testSet(t), Signer: key, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func must(t testing.TB, s *Session, e Event) State {
	t.Helper()
	st, err := s.Apply(e)
	if err != nil {
		t.Fatalf("Apply(%s %s): %v", e.Type, e.Participant, err)
	}
	return st
}

func add(id, name, lang string) Event {
	return Event{Type: ParticipantAdded, Participant: id, Principal: &Principal{Name: name, Lang: lang}}
}
func give(id string) Event { return Event{Type: ConsentGiven, Participant: id, Method: OnScreen} }
func age(id string) Event  { return Event{Type: AgeConfirmed, Participant: id, Method: OnScreen} }

// happy builds a typical two-person call: 1 s recorded, stopped.
func happy(t testing.TB, key ed25519.PrivateKey, recID string) (*Session, []byte) {
	t.Helper()
	s := newTestSession(t, key, recID)
	must(t, s, add("host", "Hanna Host", "en"))
	must(t, s, add("p1", "Piet Jansen", "nl"))
	for _, id := range []string{"host", "p1"} {
		must(t, s, Event{Type: ConsentRequested, Participant: id})
		must(t, s, give(id))
		must(t, s, age(id))
	}
	must(t, s, Event{Type: RecordingRequested})
	for i := 0; i < 50; i++ {
		if !s.Admit(960) {
			t.Fatal("gate closed with everyone consenting")
		}
	}
	must(t, s, Event{Type: RecordingStopped})
	sealUpTo(t, s)
	b, err := s.Record()
	if err != nil {
		t.Fatal(err)
	}
	return s, b
}

// sealUpTo appends a SegmentSealed for the audio admitted since the last
// one (as the recording's seal path does), if any.
func sealUpTo(t testing.TB, s *Session) {
	t.Helper()
	r := s.rec
	segs := r.Segments()
	var start int64
	if n := len(segs); n > 0 {
		start = segs[n-1].End
	}
	end := s.Offset()
	if end == start && len(segs) > 0 {
		return
	}
	must(t, s, Event{Type: SegmentSealed, Segment: &SegmentRef{Index: len(segs) + 1, Start: start, End: end,
		SHA256: fakeHash(len(segs) + 1), Size: 1000}})
}

// fakeSegs describes sealed segments ending at each of ends.
func fakeSegs(ends ...int64) []SegmentRef {
	var out []SegmentRef
	var start int64
	for i, e := range ends {
		out = append(out, SegmentRef{Index: i + 1, Start: start, End: e, SHA256: fakeHash(i + 1), Size: 1000})
		start = e
	}
	return out
}

func fakeHash(n int) string {
	h := sha256.Sum256([]byte{byte(n), byte(n >> 8)})
	return hex.EncodeToString(h[:])
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
