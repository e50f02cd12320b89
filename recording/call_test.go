package recording

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/assent-app/assent/assets"
	"github.com/assent-app/assent/audio"
	"github.com/assent-app/assent/consent"
)

// memStore keeps pages and records in memory (the vault has its own tests).
type memStore struct {
	mu      sync.Mutex
	pages   bytes.Buffer
	seals   int
	records [][]byte
	closed  bool
	failRec error
}

func (s *memStore) WritePage(p []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pages.Write(p)
	return nil
}
func (s *memStore) Seal() error  { s.mu.Lock(); s.seals++; s.mu.Unlock(); return nil }
func (s *memStore) Close() error { s.mu.Lock(); s.closed = true; s.mu.Unlock(); return nil }
func (s *memStore) SetRecord(b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failRec != nil {
		return s.failRec
	}
	s.records = append(s.records, append([]byte(nil), b...))
	return nil
}
func (s *memStore) last() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.records[len(s.records)-1]
}

// slowSource yields speech-like audio paced at about 10× real time so the
// test can act "during" the recording.
type slowSource struct{ *audio.PCMSource }

func (s slowSource) Read(buf []float32) error {
	time.Sleep(2 * time.Millisecond)
	return s.PCMSource.Read(buf)
}

func newCall(t *testing.T, st *memStore, other ...Store) (*Call, ed25519.PublicKey) {
	t.Helper()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	set, err := consent.NewLibrary(assets.Notices()).RenderSet(consent.DefaultNoticeID, "1",
		consent.OrgParams{Controller: "Acme BV", Contact: "privacy@acme.example"})
	if err != nil {
		t.Fatal(err)
	}
	src := slowSource{audio.NewPCMSource(audio.SpeechLike(60, 7), 1, true)}
	var store Store = st
	if len(other) > 0 {
		store = other[0]
	}
	c, err := Start(Config{RecordingID: "rec-test-1", Notices: set, Signer: priv, Source: src, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = c.Stop() })
	return c, pub
}

func waitAdmitted(t *testing.T, c *Call, atLeast int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for c.Stats().Admitted < atLeast {
		if time.Now().After(deadline) {
			t.Fatalf("only %d frames admitted, want %d", c.Stats().Admitted, atLeast)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func decodedFrames(t *testing.T, st *memStore) int {
	t.Helper()
	st.mu.Lock()
	data := append([]byte(nil), st.pages.Bytes()...)
	st.mu.Unlock()
	pcm, err := audio.DecodeOggOpus(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("the stored stream does not decode: %v", err)
	}
	return pcm.Frames()
}

func TestNoConsentNoAudio_CallWaitsForEveryone(t *testing.T) {
	st := &memStore{}
	c, pub := newCall(t, st)
	must(t)(c.Add("ana", consent.Principal{Name: "Ana", Email: "ana@example.com", Lang: "en"}))
	must(t)(c.Add("bob", consent.Principal{Name: "Bob", Lang: "nl"}))
	must(t)(c.RequestRecording())
	must(t)(c.Agree("ana", consent.OnScreen, ""))
	time.Sleep(100 * time.Millisecond) // capture runs; Bob has not agreed
	if s := c.Stats(); s.Admitted != 0 || s.Captured == 0 {
		t.Fatalf("before Bob agreed: %+v (want frames captured and none admitted)", s)
	}
	must(t)(c.Agree("bob", consent.VerbalAttested, "ana"))
	waitAdmitted(t, c, 48000)
	final, err := c.Stop()
	if err != nil {
		t.Fatal(err)
	}
	proof, err := consent.Verify(st.last(), pub)
	if err != nil {
		t.Fatalf("final record does not verify: %v", err)
	}
	if !proof.Final || proof.FinalOffset != final.Offset {
		t.Fatalf("proof final=%v offset=%d, session offset %d", proof.Final, proof.FinalOffset, final.Offset)
	}
	// Every admitted frame, and nothing else, is in the stored stream.
	if got := int64(decodedFrames(t, st)); got != final.Offset {
		t.Fatalf("stored audio has %d frames, the record covers %d", got, final.Offset)
	}
}

func TestNoConsentNoAudio_RefusalRecordsNothing(t *testing.T) {
	st := &memStore{}
	c, pub := newCall(t, st)
	must(t)(c.Add("ana", consent.Principal{Name: "Ana", Lang: "en"}))
	must(t)(c.Add("bob", consent.Principal{Name: "Bob", Lang: "en"}))
	must(t)(c.RequestRecording())
	must(t)(c.Agree("ana", consent.OnScreen, ""))
	st2, err := c.Refuse("bob", consent.OnScreen, "")
	if err != nil {
		t.Fatal(err)
	}
	if st2.Phase != consent.PhaseStopped && st2.Phase != consent.PhaseRefused {
		t.Fatalf("phase after refusal: %s", st2.Phase)
	}
	<-c.Done()
	if s := c.Stats(); s.Admitted != 0 || s.Packets != 0 {
		t.Fatalf("a refused call admitted audio: %+v", s)
	}
	if n := decodedFrames(t, st); n != 0 {
		t.Fatalf("a refused call stored %d frames", n)
	}
	if _, err := consent.Verify(st.last(), pub); err != nil {
		t.Fatalf("the refusal's record does not verify: %v", err)
	}
	if _, err := c.Agree("bob", consent.OnScreen, ""); err == nil {
		t.Fatal("an ended call accepted a new event")
	}
}

func TestNoConsentNoAudio_WithdrawalStopsAtOnce(t *testing.T) {
	st := &memStore{}
	c, pub := newCall(t, st)
	must(t)(c.Add("ana", consent.Principal{Name: "Ana", Lang: "en"}))
	must(t)(c.RequestRecording())
	must(t)(c.Agree("ana", consent.OnScreen, ""))
	waitAdmitted(t, c, 20*960)
	before := c.Stats().Admitted
	final, err := c.Withdraw("ana", consent.OnScreen, "")
	if err != nil {
		t.Fatal(err)
	}
	if final.Phase != consent.PhaseStopped {
		t.Fatalf("withdrawal left the call in phase %s", final.Phase)
	}
	after := c.Stats().Admitted
	// At most the buffer in flight when Withdraw was called was admitted after it.
	if after-before > 2*audio.FrameSize {
		t.Fatalf("%d frames admitted after the withdrawal began", after-before)
	}
	proof, err := consent.Verify(st.last(), pub)
	if err != nil {
		t.Fatal(err)
	}
	if int64(decodedFrames(t, st)) != proof.FinalOffset || proof.FinalOffset != after {
		t.Fatalf("audio %d frames, record %d, admitted %d", decodedFrames(t, st), proof.FinalOffset, after)
	}
}

func TestNoConsentNoAudio_LateJoinerPauses(t *testing.T) {
	st := &memStore{}
	c, pub := newCall(t, st)
	must(t)(c.Add("ana", consent.Principal{Name: "Ana", Lang: "en"}))
	must(t)(c.RequestRecording())
	must(t)(c.Agree("ana", consent.OnScreen, ""))
	waitAdmitted(t, c, 10*960)
	s, err := c.Add("cem", consent.Principal{Name: "Cem", Lang: "de"})
	if err != nil {
		t.Fatal(err)
	}
	if s.GateOpen {
		t.Fatal("gate open right after a late joiner arrived")
	}
	held := c.Stats().Admitted
	time.Sleep(100 * time.Millisecond)
	if c.Stats().Admitted != held {
		t.Fatal("audio admitted while the late joiner had not agreed")
	}
	must(t)(c.Agree("cem", consent.OnScreen, ""))
	waitAdmitted(t, c, held+10*960)
	if _, err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	proof, err := consent.Verify(st.last(), pub)
	if err != nil {
		t.Fatal(err)
	}
	if len(proof.Spans) < 2 {
		t.Fatalf("want a span before and after Cem joined, got %d", len(proof.Spans))
	}
	last := proof.Spans[len(proof.Spans)-1]
	if len(last.Participants) != 2 {
		t.Fatalf("the last span should show Ana and Cem present, got %+v", last.Participants)
	}
}

func TestNothingLostOnCrash_RecordSavedBeforeEventReturns(t *testing.T) {
	st := &memStore{}
	c, pub := newCall(t, st)
	for i, step := range []func() (consent.State, error){
		func() (consent.State, error) { return c.Add("ana", consent.Principal{Name: "Ana", Lang: "en"}) },
		c.RequestRecording,
		func() (consent.State, error) { return c.Agree("ana", consent.OnScreen, "") },
	} {
		st1, err := step()
		if err != nil {
			t.Fatal(err)
		}
		rec, err := consent.Parse(st.last())
		if err != nil {
			t.Fatal(err)
		}
		if len(rec.Events) != st1.Seq {
			t.Fatalf("step %d: saved record has %d events, session %d", i, len(rec.Events), st1.Seq)
		}
		if _, err := consent.VerifyRecord(rec, pub); err != nil {
			t.Fatalf("step %d: the interim record does not verify: %v", i, err)
		}
	}
}

func TestBadInputGetsClearError_RecordSaveFailureStopsCall(t *testing.T) {
	st := &memStore{}
	c, _ := newCall(t, st)
	must(t)(c.Add("ana", consent.Principal{Name: "Ana", Lang: "en"}))
	st.mu.Lock()
	st.failRec = errors.New("disk full")
	st.mu.Unlock()
	_, err := c.RequestRecording()
	if !errors.Is(err, ErrSaveRecord) {
		t.Fatalf("got %v, want ErrSaveRecord", err)
	}
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the call kept capturing without a saved record")
	}
	if c.Stats().Admitted != 0 {
		t.Fatal("audio admitted")
	}
}

func must(t *testing.T) func(consent.State, error) {
	return func(_ consent.State, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
}
