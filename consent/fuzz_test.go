package consent

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
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
	must(f, s, add("late", "Lena", "de"))
	saved, _ := s.Record()
	f.Add(saved)
	rec, err := Recover(saved, 9600, key, time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC))
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
