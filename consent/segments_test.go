package consent

import (
	"crypto/ed25519"
	"errors"
	"testing"
	"time"
)

// recordedWithSeals: one person, 3 s admitted, sealed in three segments
// while recording, stopped; the last segment is sealed after the stop (as
// the pipeline's Close does).
func recordedWithSeals(t *testing.T, key ed25519.PrivateKey) (*Session, []byte) {
	t.Helper()
	s := newTestSession(t, key, "r1")
	for _, e := range []Event{add("host", "Hanna", "en"), give("host"), age("host"), {Type: RecordingRequested}} {
		must(t, s, e)
	}
	for i := 0; i < 2; i++ {
		s.Admit(48000)
		sealUpTo(t, s)
	}
	s.Admit(48000)
	must(t, s, Event{Type: RecordingStopped})
	sealUpTo(t, s)
	b, err := s.Record()
	if err != nil {
		t.Fatal(err)
	}
	return s, b
}

func TestEveryStoredSecondProvable_SegmentsBoundToRecord(t *testing.T) {
	key := testKey(t, 1)
	pub := key.Public().(ed25519.PublicKey)
	_, good := recordedWithSeals(t, key)
	p, err := Verify(good, pub)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Final || !p.AudioBound || p.FinalOffset != 3*48000 || len(p.Segments) != 3 || p.Segments[2].End != 3*48000 {
		t.Fatalf("proof %+v", p)
	}
	segAt := func(r *Record, n int) *SegmentRef {
		for i := range r.Events {
			if r.Events[i].Type == SegmentSealed && r.Events[i].Segment.Index == n {
				return r.Events[i].Segment
			}
		}
		t.Fatalf("no segment %d", n)
		return nil
	}
	// The segment is part of the event hash: changing it breaks the chain.
	r := parsed(t, good)
	segAt(r, 2).SHA256 = fakeHash(99)
	b, _ := r.Marshal()
	if _, err := Verify(b, pub); !errors.Is(err, ErrChain) {
		t.Fatalf("altered segment hash: %v", err)
	}
	for _, c := range []struct {
		name string
		edit func(r *Record)
		want error
	}{
		{"index gap", func(r *Record) { segAt(r, 3).Index = 4 }, ErrOffset},
		{"first does not start at 0", func(r *Record) { segAt(r, 1).Start = 960 }, ErrOffset},
		{"start is not the previous end", func(r *Record) { segAt(r, 2).Start -= 960 }, ErrOffset},
		{"ends after what was admitted", func(r *Record) { segAt(r, 2).End += 960; segAt(r, 3).Start += 960 }, ErrOffset},
		{"claims more audio than sealed", func(r *Record) {
			for i := range r.Events {
				if r.Events[i].Type == RecordingStopped || r.Events[i].Type == SegmentSealed && r.Events[i].Segment.Index == 3 {
					r.Events[i].Offset += 48000
				}
			}
		}, ErrAudioMismatch},
		{"last segment dropped", func(r *Record) { r.Events = r.Events[:len(r.Events)-1] }, ErrAudioMismatch},
		{"segments dropped but one", func(r *Record) {
			var kept []Event
			for _, e := range r.Events {
				if e.Type != SegmentSealed || e.Segment.Index == 1 {
					e.Seq = len(kept)
					kept = append(kept, e)
				}
			}
			r.Events = kept
		}, ErrAudioMismatch},
		{"segment on another event", func(r *Record) { r.Events[0].Segment = &SegmentRef{Index: 1, End: 0, SHA256: fakeHash(1), Size: 1} }, ErrTransition},
	} {
		r := parsed(t, good)
		c.edit(r)
		if _, err := Verify(rechain(t, r, key), pub); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
	// The session refuses a segment that ends beyond the admitted audio.
	s, _ := recordedWithSeals(t, key)
	if _, err := s.Apply(Event{Type: SegmentSealed, Segment: &SegmentRef{Index: 4, Start: 3 * 48000, End: 4 * 48000, SHA256: fakeHash(4), Size: 9}}); !errors.Is(err, ErrOffset) {
		t.Fatalf("segment beyond the admitted audio: %v", err)
	}
	// A v1 record (no segments, v1 hash) still verifies; a v1 record that
	// lists a segment does not (its hash would not cover the segment).
	v1 := func(r *Record) []byte {
		r.Format = FormatV1
		prev := r.HeaderHash()
		for i := range r.Events {
			r.Events[i].Prev = prev
			r.Events[i].Hash = EventHashFormat(FormatV1, &r.Events[i])
			prev = r.Events[i].Hash
		}
		if err := r.sign(key); err != nil {
			t.Fatal(err)
		}
		b, _ := r.Marshal()
		return b
	}
	r = parsed(t, good)
	var old []Event
	for _, e := range r.Events {
		if e.Type != SegmentSealed {
			e.Seq = len(old)
			old = append(old, e)
		}
	}
	r.Events = old
	if p, err := Verify(v1(r), pub); err != nil || p.FinalOffset != 3*48000 || p.AudioBound {
		t.Fatalf("v1 record: %v %+v", err, p)
	}
	// A v2 record without any SegmentSealed verifies as consent for its
	// offsets but binds no audio.
	r.Format = Format
	if p, err := Verify(rechain(t, r, key), pub); err != nil || p.AudioBound {
		t.Fatalf("v2 record without segments: %v %+v", err, p)
	}
	if _, err := Verify(v1(parsed(t, good)), pub); !errors.Is(err, ErrSchema) {
		t.Fatalf("v1 record with segments: %v", err)
	}
}

func TestNothingLostOnCrash_RecoverBindsSealedSegments(t *testing.T) {
	key := testKey(t, 1)
	pub := key.Public().(ed25519.PublicKey)
	s := newTestSession(t, key, "r1")
	for _, e := range []Event{add("host", "Hanna", "en"), give("host"), age("host"), {Type: RecordingRequested}} {
		must(t, s, e)
	}
	s.Admit(48000)
	sealUpTo(t, s)
	s.Admit(48000)
	saved, _ := s.Record() // segment 2 was renamed into place, the app died before saving the record
	onDisk := fakeSegs(48000, 96000)
	onDisk[0] = s.rec.Segments()[0]
	audioEnd := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	rec, err := Recover(saved, onDisk, audioEnd, key, audioEnd.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Verify(rec, pub)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Recovered || p.FinalOffset != 96000 || len(p.Segments) != 2 || p.Segments[1] != onDisk[1] {
		t.Fatalf("proof %+v", p)
	}
	last := p.Record.Events[len(p.Record.Events)-1]
	if last.Type != Recovered || last.Time != formatTime(audioEnd) {
		t.Fatalf("Recovered event %+v: want the time the sealed audio ended (%s)", last, formatTime(audioEnd))
	}
	// Idempotent.
	again, err := Recover(rec, onDisk, audioEnd, key, audioEnd.Add(2*time.Hour))
	if err != nil || string(again) != string(rec) {
		t.Fatalf("second recovery: %v", err)
	}
	// A record that lists a segment the disk does not hold is refused.
	if _, err := Recover(rec, onDisk[:1], audioEnd, key, audioEnd); !errors.Is(err, ErrAudioMismatch) {
		t.Fatalf("segment missing on disk: %v", err)
	}

	// Stopped, but the app died before the last segment was listed: it is
	// appended after RecordingStopped, and nothing else.
	s2, _ := recordedWithSeals(t, key)
	full := s2.rec.Segments()
	r := parsed(t, mustRecord(t, s2))
	r.Events = r.Events[:len(r.Events)-1]
	stopped := rechain(t, r, key)
	rec, err = Recover(stopped, full, audioEnd, key, audioEnd)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := Verify(rec, pub); err != nil || p.Recovered || len(p.Segments) != 3 {
		t.Fatalf("stopped record, last seal missing: %v %+v", err, p)
	}
	// Stopped, and the last segment never reached the disk: Recovered
	// closes the record at the end of what was sealed.
	rec, err = Recover(stopped, full[:2], audioEnd, key, audioEnd)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := Verify(rec, pub); err != nil || !p.Recovered || p.FinalOffset != full[1].End {
		t.Fatalf("stopped record, last segment lost: %v %+v", err, p)
	}
}

func mustRecord(t *testing.T, s *Session) []byte {
	t.Helper()
	b, err := s.Record()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
