package consent

import (
	"crypto/ed25519"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestEveryStoredSecondProvable_SpansNameWhoAndWhichNotice(t *testing.T) {
	key := testKey(t, 1)
	pub := key.Public().(ed25519.PublicKey)
	s := newTestSession(t, key, "r1")
	set := testSet(t)
	for _, e := range []Event{add("host", "Hanna", "en"), give("host"), age("host"),
		add("p1", "Piet", "nl"), give("p1"), age("p1"), {Type: RecordingRequested}} {
		must(t, s, e)
	}
	s.Admit(48000) // 1 s with host + p1
	st := must(t, s, add("late", "Lena", "de"))
	if st.GateOpen || s.Admit(960) {
		t.Fatal("late joiner did not close the gate")
	}
	must(t, s, Event{Type: ConsentGiven, Participant: "late", Method: VerbalAttested, AttestedBy: "host"})
	if s.Admit(960) {
		t.Fatal("gate opened before the joiner confirmed the minimum age")
	}
	must(t, s, age("late"))
	s.Admit(96000) // 2 s with three people
	must(t, s, Event{Type: ConsentWithdrawn, Participant: "p1", Method: OnScreen})
	if s.Admit(960) {
		t.Fatal("withdrawal did not close the gate")
	}
	must(t, s, Event{Type: ParticipantLeft, Participant: "p1"})
	s.Admit(48000) // 1 s without p1
	must(t, s, Event{Type: RecordingStopped})
	sealUpTo(t, s)
	b, err := s.Record()
	if err != nil {
		t.Fatal(err)
	}
	p, err := Verify(b, pub)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		from, to int64
		who      map[string]string // id → lang of the notice accepted
	}{
		{0, 48000, map[string]string{"host": "en", "p1": "nl"}},
		{48000, 144000, map[string]string{"host": "en", "p1": "nl", "late": "de"}},
		{144000, 192000, map[string]string{"host": "en", "late": "de"}},
	}
	if len(p.Spans) != len(want) || p.FinalOffset != 192000 || !p.Final {
		t.Fatalf("spans %+v final %d", p.Spans, p.FinalOffset)
	}
	for i, w := range want {
		sp := p.Spans[i]
		if sp.From != w.from || sp.To != w.to || len(sp.Participants) != len(w.who) {
			t.Fatalf("span %d = %+v, want %+v", i, sp, w)
		}
		for _, pp := range sp.Participants {
			lang, ok := w.who[pp.ID]
			if !ok || pp.Notice.Lang != lang || pp.Notice.SHA256 != set.Texts[lang].SHA256 || pp.Notice.Version != "1" {
				t.Fatalf("span %d participant %+v", i, pp)
			}
		}
	}
	if p.Spans[1].Participants[2].Method != VerbalAttested {
		t.Fatalf("method of the late joiner not kept: %+v", p.Spans[1].Participants[2])
	}
}

// A record whose audio ran while the gate was closed, even if properly
// signed, does not verify: the record names the offending frames.
func TestEveryStoredSecondProvable_AudioWhileClosedFails(t *testing.T) {
	key := testKey(t, 1)
	_, good := happy(t, key, "r1")
	r := parsed(t, good)
	// Move the audio to before the second participant's age confirmation.
	for i := range r.Events {
		if i >= 7 {
			r.Events[i].Offset = 48000
		}
	}
	_, err := Verify(rechain(t, r, key), key.Public().(ed25519.PublicKey))
	var ce *CoverageError
	if !errors.As(err, &ce) || !errors.Is(err, ErrNotCovered) || ce.From != 0 || ce.To != 48000 || ce.AfterEvent != 6 || ce.Participant != "p1" {
		t.Fatalf("got %v (%+v)", err, ce)
	}
}

func TestEveryStoredSecondProvable_RecoverAfterCrash(t *testing.T) {
	key := testKey(t, 1)
	pub := key.Public().(ed25519.PublicKey)
	now := time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC)

	open := func() (*Session, []byte) {
		s := newTestSession(t, key, "r1")
		for _, e := range []Event{add("host", "Hanna", "en"), give("host"), age("host"), {Type: RecordingRequested}} {
			must(t, s, e)
		}
		s.Admit(48000)
		must(t, s, Event{Type: RecordingPaused, Reason: "host paused"})
		must(t, s, Event{Type: RecordingResumed})
		b, err := s.Record() // the app saves after every event
		if err != nil {
			t.Fatal(err)
		}
		return s, b
	}

	// Gate open at the last event: sealed audio beyond it is covered.
	_, saved := open()
	rec, err := Recover(saved, fakeSegs(48000+4*48000), time.Time{}, key, now)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Verify(rec, pub)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Final || !p.Recovered || p.FinalOffset != 5*48000 || len(p.Spans) != 1 || p.Spans[0].To != 5*48000 {
		t.Fatalf("recovered proof %+v", p)
	}
	// Only the first second was sealed: spans are cut there.
	rec, err = Recover(saved, fakeSegs(30000), time.Time{}, key, now)
	if err != nil {
		t.Fatal(err)
	}
	if p, err = Verify(rec, pub); err != nil || p.FinalOffset != 30000 || p.Spans[0].To != 30000 {
		t.Fatalf("short recovery: %v %+v", err, p)
	}
	// Recover is idempotent: a closed, complete record comes back as it is
	// (a recovery that crashed after saving the record runs again safely).
	again, err := Recover(rec, fakeSegs(30000), time.Time{}, key, now.Add(time.Hour))
	if err != nil || string(again) != string(rec) {
		t.Fatalf("second recovery changed the record or failed: %v", err)
	}
	// Audio on disk that differs from what the record lists is refused.
	if _, err := Recover(rec, fakeSegs(1), time.Time{}, key, now); !errors.Is(err, ErrAudioMismatch) {
		t.Fatalf("recovery with other audio: %v", err)
	}

	// Gate closed at the last event (a withdrawal): sealed audio beyond it
	// must not verify.
	s, _ := open()
	must(t, s, Event{Type: ConsentWithdrawn, Participant: "host", Method: OnScreen})
	saved, _ = s.Record()
	rec, err = Recover(saved, fakeSegs(48000+960), time.Time{}, key, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(rec, pub); !errors.Is(err, ErrNotCovered) {
		t.Fatalf("audio after withdrawal recovered: %v", err)
	}
	rec, err = Recover(saved, fakeSegs(48000), time.Time{}, key, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(rec, pub); err != nil {
		t.Fatalf("recovery up to the withdrawal: %v", err)
	}

	// Recover does not extend a record it cannot verify.
	r := parsed(t, saved)
	r.Events[0].Principal.Name = "X"
	bad, _ := r.Marshal()
	if _, err := Recover(bad, fakeSegs(48000), time.Time{}, key, now); !errors.Is(err, ErrChain) {
		t.Fatalf("recovering a tampered record: %v", err)
	}
}

// The gate's closing reaches the pipeline within one buffer: once Apply
// of a withdrawal returns, no Admit returns true, even from a capture
// goroutine running concurrently; and the record proves every frame the
// capture goroutine got through.
func TestNoConsentNoAudio_WithdrawalClosesWithinOneBuffer(t *testing.T) {
	key := testKey(t, 1)
	for round := 0; round < 20; round++ {
		s := newTestSession(t, key, "r1")
		for _, e := range []Event{add("host", "Hanna", "en"), give("host"), age("host"), add("p1", "Piet", "nl"), give("p1"), age("p1"), {Type: RecordingRequested}} {
			must(t, s, e)
		}
		var stop atomic.Bool
		var admitted atomic.Int64
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // the capture loop
			defer wg.Done()
			for !stop.Load() {
				if s.Admit(480) {
					admitted.Add(480)
				}
			}
		}()
		for admitted.Load() < 48000 {
			time.Sleep(time.Millisecond)
		}
		must(t, s, Event{Type: ConsentWithdrawn, Participant: "p1", Method: OnScreen})
		at := s.Offset()
		if s.Admit(480) {
			t.Fatal("Admit returned true after the withdrawal was applied")
		}
		time.Sleep(2 * time.Millisecond)
		if s.Offset() != at {
			t.Fatalf("offset moved from %d to %d after withdrawal", at, s.Offset())
		}
		stop.Store(true)
		wg.Wait()
		must(t, s, Event{Type: RecordingStopped})
		sealUpTo(t, s)
		b, _ := s.Record()
		p, err := Verify(b, key.Public().(ed25519.PublicKey))
		if err != nil {
			t.Fatal(err)
		}
		if p.FinalOffset != admitted.Load() || p.Spans[len(p.Spans)-1].To != admitted.Load() {
			t.Fatalf("record covers %d frames, capture admitted %d", p.FinalOffset, admitted.Load())
		}
	}
}

func TestNoConsentNoAudio_OneRefusalRecordsNothing(t *testing.T) {
	key := testKey(t, 1)
	s := newTestSession(t, key, "r1")
	for _, e := range []Event{add("host", "Hanna", "en"), give("host"), age("host"), add("p1", "Piet", "nl"), {Type: RecordingRequested}} {
		must(t, s, e)
	}
	st := must(t, s, Event{Type: ConsentRefused, Participant: "p1", Method: VerbalAttested, AttestedBy: "host"})
	if st.Phase != PhaseRefused || st.GateOpen {
		t.Fatalf("state after refusal %+v", st)
	}
	// Even if the refuser leaves, nothing is recorded in this session.
	must(t, s, Event{Type: ParticipantLeft, Participant: "p1"})
	if s.Admit(960) {
		t.Fatal("gate opened after a refusal")
	}
	if _, err := s.Apply(give("p1")); !errors.Is(err, ErrTransition) {
		t.Fatalf("consent after refusal: %v", err)
	}
	must(t, s, Event{Type: RecordingStopped})
	sealUpTo(t, s)
	b, _ := s.Record()
	p, err := Verify(b, key.Public().(ed25519.PublicKey))
	if err != nil || len(p.Spans) != 0 || p.FinalOffset != 0 {
		t.Fatalf("%v %+v", err, p)
	}
}

func TestNoConsentNoAudio_NotRequestedOrNobodyPresent(t *testing.T) {
	key := testKey(t, 1)
	s := newTestSession(t, key, "r1")
	if s.Admit(960) {
		t.Fatal("empty session admitted audio")
	}
	must(t, s, Event{Type: RecordingRequested})
	if s.Admit(960) {
		t.Fatal("nobody present, audio admitted")
	}
	must(t, s, add("host", "Hanna", "en"))
	must(t, s, give("host"))
	must(t, s, age("host"))
	if !s.Admit(960) {
		t.Fatal("gate closed with full consent")
	}
	must(t, s, Event{Type: ParticipantLeft, Participant: "host"})
	if s.Admit(960) {
		t.Fatal("nobody present, audio admitted")
	}
}

func TestSubscribeDeliversOffLockInOrder(t *testing.T) {
	key := testKey(t, 1)
	s := newTestSession(t, key, "r1")
	var mu sync.Mutex
	var seqs []int
	var opened []bool
	done := make(chan struct{})
	cancel := s.Subscribe(func(st State) {
		s.Admit(1) // would deadlock if called under the session lock
		_ = s.State()
		mu.Lock()
		seqs = append(seqs, st.Seq)
		opened = append(opened, st.GateOpen)
		n := st.Seq
		mu.Unlock()
		if n == 9 {
			close(done)
		}
	})
	defer cancel()
	for _, e := range []Event{add("host", "Hanna", "en"), give("host"), age("host"), {Type: RecordingRequested}, // + RecordingStarted
		{Type: RecordingPaused}, {Type: RecordingResumed}, {Type: ConsentWithdrawn, Participant: "host", Method: OnScreen}, give("host")} {
		must(t, s, e)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("subscriber did not receive all states")
	}
	mu.Lock()
	defer mu.Unlock()
	for i := 1; i < len(seqs); i++ {
		if seqs[i] < seqs[i-1] {
			t.Fatalf("states out of order: %v", seqs)
		}
	}
	if seqs[0] != 0 || seqs[len(seqs)-1] != 9 || !opened[len(opened)-1] {
		t.Fatalf("seqs %v opened %v", seqs, opened)
	}
	cancel()
	cancel() // idempotent
}

// A wall clock that steps back (NTP, suspend) must not make the app's own
// record fail verification.
func TestEveryStoredSecondProvable_ClockStepsBack(t *testing.T) {
	key := testKey(t, 1)
	times := []time.Time{time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	for i := 0; i < 20; i++ {
		times = append(times, times[0].Add(time.Duration(i%3-1)*time.Hour))
	}
	i := 0
	clock := func() time.Time { i++; return times[i%len(times)] }
	s, err := NewSession(Config{RecordingID: "r1", Notices: testSet(t), Signer: key, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []Event{add("host", "Hanna", "en"), give("host"), age("host"), {Type: RecordingRequested}} {
		must(t, s, e)
	}
	s.Admit(4800)
	saved, _ := s.Record()
	rec, err := Recover(saved, fakeSegs(4800), time.Time{}, key, times[0].Add(-48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(rec, key.Public().(ed25519.PublicKey)); err != nil {
		t.Fatal(err)
	}
}

func TestEveryStoredSecondProvable_NoAudioBeforeFirstEvent(t *testing.T) {
	key := testKey(t, 1)
	pub := key.Public().(ed25519.PublicKey)
	_, good := happy(t, key, "r1")
	r := parsed(t, good)
	for i := range r.Events {
		r.Events[i].Offset += 960
	}
	if _, err := Verify(rechain(t, r, key), pub); !errors.Is(err, ErrNotCovered) {
		t.Fatalf("audio before the first event: %v", err)
	}
	// A crash before any event, with sealed audio, cannot be recovered into
	// a valid record.
	s := newTestSession(t, key, "r2")
	empty, _ := s.Record()
	rec, err := Recover(empty, fakeSegs(4800), time.Time{}, key, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(rec, pub); !errors.Is(err, ErrNotCovered) {
		t.Fatalf("recovered audio without any consent: %v", err)
	}
	if rec, _ = Recover(empty, nil, time.Time{}, key, time.Now()); rec == nil {
		t.Fatal("no record")
	}
	if p, err := Verify(rec, pub); err != nil || len(p.Spans) != 0 || !p.Recovered {
		t.Fatalf("empty recovery: %v %+v", err, p)
	}
}

// Events applied from several goroutines while audio flows still make one
// consistent record, and subscribers see states in order.
func TestEveryStoredSecondProvable_ConcurrentApply(t *testing.T) {
	key := testKey(t, 1)
	s := newTestSession(t, key, "r1")
	var mu sync.Mutex
	last, outOfOrder := -1, false
	cancel := s.Subscribe(func(st State) {
		mu.Lock()
		if st.Seq < last {
			outOfOrder = true
		}
		last = st.Seq
		mu.Unlock()
	})
	defer cancel()
	must(t, s, Event{Type: RecordingRequested})
	var wg sync.WaitGroup
	var stop atomic.Bool
	var admitted atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			if s.Admit(480) {
				admitted.Add(480)
			}
		}
	}()
	var apply sync.WaitGroup
	for g := 0; g < 4; g++ {
		apply.Add(1)
		go func(g int) {
			defer apply.Done()
			id := string(rune('a' + g))
			for _, e := range []Event{add(id, "P "+id, "en"), give(id), age(id)} {
				if _, err := s.Apply(e); err != nil {
					t.Error(err)
				}
			}
			for i := 0; i < 20; i++ {
				s.Apply(Event{Type: ConsentWithdrawn, Participant: id, Method: OnScreen})
				s.Apply(give(id))
			}
		}(g)
	}
	apply.Wait()
	stop.Store(true)
	wg.Wait()
	must(t, s, Event{Type: RecordingStopped})
	sealUpTo(t, s)
	b, _ := s.Record()
	p, err := Verify(b, key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	if p.FinalOffset != admitted.Load() {
		t.Fatalf("record covers %d, admitted %d", p.FinalOffset, admitted.Load())
	}
	mu.Lock()
	defer mu.Unlock()
	if outOfOrder {
		t.Fatal("subscriber saw states out of order")
	}
}
