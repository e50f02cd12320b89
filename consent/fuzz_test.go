package consent

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math/rand"
	"testing"
	"testing/fstest"
	"time"
)

func fuzzSeeds(f *testing.F) {
	key := testKey(f, 1)
	_, good := happy(f, key, "r1")
	f.Add(good)
	s := newTestSession(f, key, "r2")
	for _, e := range []Event{add("host", "Hanna", "en"), give("host"), age("host"), {Type: RecordingRequested}} {
		must(f, s, e)
	}
	s.Admit(4800)
	sealUpTo(f, s) // a SegmentSealed event (format v2)
	must(f, s, add("late", "Lena", "de"))
	saved, _ := s.Record()
	f.Add(saved)
	rec, err := Recover(saved, fakeSegs(4800, 9600), time.Time{}, key, time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(rec)
	f.Add(bytes.Replace(good, []byte(`"offset": 0`), []byte(`"offset": 1e3`), 1))
	f.Add([]byte(`{"format":"assent.consent-record.v1","events":[]}`))
	f.Add([]byte(`{`))
}

// FuzzParse: the record parser never panics, and what it accepts
// re-encodes to a record it accepts again, with the same hashes.
func FuzzParse(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrSchema) {
				t.Fatalf("Parse error without a sentinel: %v", err)
			}
			return
		}
		b, err := r.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		r2, err := Parse(b)
		if err != nil {
			t.Fatalf("re-encoded record rejected: %v\n%s", err, b)
		}
		if r.HeaderHash() != r2.HeaderHash() || r.Head() != r2.Head() {
			t.Fatal("hashes changed in a round trip")
		}
	})
}

// FuzzVerify: the verifier never panics, every error carries a sentinel,
// and whatever verifies has sane spans inside [0, final offset).
func FuzzVerify(f *testing.F) {
	fuzzSeeds(f)
	pub := testKey(f, 1).Public().(ed25519.PublicKey)
	sentinels := []error{ErrMalformed, ErrSchema, ErrSequence, ErrChain, ErrSignature, ErrWrongKey, ErrTime,
		ErrOffset, ErrNotCovered, ErrTransition, ErrFinal, ErrNoticeMismatch, ErrNoNotice}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Verify(data, pub)
		if err != nil {
			for _, s := range sentinels {
				if errors.Is(err, s) {
					return
				}
			}
			t.Fatalf("Verify error without a sentinel: %v", err)
		}
		var end int64
		for i, sp := range p.Spans {
			if sp.From < end || sp.To <= sp.From || sp.To > p.FinalOffset || len(sp.Participants) == 0 {
				t.Fatalf("span %d %+v bad (final %d)", i, sp, p.FinalOffset)
			}
			for _, pp := range sp.Participants {
				if pp.Notice.SHA256 == "" || !validMethod(pp.Method) {
					t.Fatalf("span %d participant %+v without consent", i, pp)
				}
			}
			end = sp.To
		}
		if _, err := VerifyRecord(p.Record, pub); err != nil {
			t.Fatalf("verified record fails VerifyRecord: %v", err)
		}
	})
}

// FuzzRenderNotice: organisation-supplied notice templates never panic or
// run code; what renders is hashed exactly.
func FuzzRenderNotice(f *testing.F) {
	f.Add("Hello {{.Controller}}, {{.MinAge}} years, {{.RetentionMonths}} months.")
	f.Add("{{range 1000000000}}x{{end}}")
	f.Add("{{define \"x\"}}y{{end}}{{template \"x\"}}")
	f.Add("{{.Controller.Foo}}{{printf \"%d\" 1}}{{$x := 1}}")
	f.Add("{{")
	f.Fuzz(func(t *testing.T, tpl string) {
		lib := NewLibrary(fstest.MapFS{"n/1/en.md": {Data: []byte(tpl)}})
		n, err := lib.Render("n", "1", "en", testOrg)
		if err != nil {
			if !errors.Is(err, ErrNoNotice) {
				t.Fatalf("error without sentinel: %v", err)
			}
			return
		}
		sum := sha256.Sum256([]byte(n.Text))
		if n.SHA256 != hex.EncodeToString(sum[:]) {
			t.Fatal("hash does not match the text")
		}
	})
}

// byteSource feeds math/rand from fuzz input.
type byteSource struct {
	b []byte
	i int
}

func (s *byteSource) Int63() int64 {
	var v uint64
	for k := 0; k < 8; k++ {
		v <<= 8
		if s.i < len(s.b) {
			v |= uint64(s.b[s.i])
		}
		s.i++
	}
	return int64(v >> 1)
}
func (s *byteSource) Seed(int64) {}

// FuzzSessionGate drives a session with event sequences chosen by the
// fuzzer and checks the gate against the reference model after every step
// and that the resulting record verifies with spans equal to the audio
// admitted.
func FuzzSessionGate(f *testing.F) {
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0x10, 0x80, 0x33, 0x07, 0xf0, 0x01, 0x99, 0x42}, 30))
	key := testKey(f, 3)
	pub := key.Public().(ed25519.PublicKey)
	set := testSet(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 512 {
			return
		}
		src := &byteSource{b: data}
		rng := rand.New(src)
		s, err := NewSession(Config{RecordingID: "fz", Notices: set, Signer: key, Now: (&fakeClock{t: time.Unix(1.7e9, 0)}).now})
		if err != nil {
			t.Fatal(err)
		}
		m := &refModel{parts: map[string]*refPart{}}
		var off int64
		for src.i < len(data) && !m.stopped {
			if rng.Intn(2) == 0 {
				e := randomEvent(rng, m, true)
				if _, err := s.Apply(e); err == nil {
					m.apply(e)
				}
				continue
			}
			n := 1 + rng.Intn(1000)
			if ok := s.Admit(n); ok != m.mayRecord() {
				t.Fatalf("gate %v, model %v", ok, m.mayRecord())
			} else if ok {
				off += int64(n)
			}
		}
		if !m.stopped {
			if _, err := s.Apply(Event{Type: RecordingStopped}); err != nil {
				t.Fatal(err)
			}
		}
		rec, err := s.Record()
		if err != nil {
			t.Fatal(err)
		}
		p, err := Verify(rec, pub)
		if err != nil {
			t.Fatalf("own record: %v", err)
		}
		var covered int64
		for _, sp := range p.Spans {
			covered += sp.To - sp.From
		}
		if covered != off {
			t.Fatalf("spans cover %d frames, %d admitted", covered, off)
		}
	})
}
