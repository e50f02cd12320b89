package consent

import (
	"crypto/ed25519"
	"fmt"
	"testing"
)

// BenchmarkAdmit is the per-buffer cost the capture loop pays (target:
// well under 1 µs, i.e. negligible against a 10 ms buffer).
func BenchmarkAdmit(b *testing.B) {
	key := testKey(b, 1)
	s := newTestSession(b, key, "r1")
	for _, e := range []Event{add("host", "Hanna", "en"), give("host"), age("host"), add("p1", "Piet", "nl"), give("p1"), age("p1"), {Type: RecordingRequested}} {
		must(b, s, e)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if !s.Admit(480) {
			b.Fatal("closed")
		}
	}
}

// BenchmarkApplyAndSave is one event plus the signed snapshot the app
// saves after it.
func BenchmarkApplyAndSave(b *testing.B) {
	key := testKey(b, 1)
	s := newTestSession(b, key, "r1")
	for _, e := range []Event{add("host", "Hanna", "en"), give("host"), age("host"), {Type: RecordingRequested}} {
		must(b, s, e)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%2 == 0 {
			must(b, s, Event{Type: RecordingPaused})
		} else {
			must(b, s, Event{Type: RecordingResumed})
		}
		if _, err := s.Record(); err != nil {
			b.Fatal(err)
		}
		if i%200 == 199 { // keep the record at a realistic size
			b.StopTimer()
			s = newTestSession(b, key, "r1")
			for _, e := range []Event{add("host", "Hanna", "en"), give("host"), age("host"), {Type: RecordingRequested}} {
				must(b, s, e)
			}
			if i%4 == 3 {
				must(b, s, Event{Type: RecordingPaused})
				i++
			}
			b.StartTimer()
		}
	}
}

// BenchmarkVerify verifies records of 10, 100 and 1000 events (the
// server does this for every finalised recording).
func BenchmarkVerify(b *testing.B) {
	key := testKey(b, 1)
	pub := key.Public().(ed25519.PublicKey)
	for _, n := range []int{10, 100, 1000} {
		s := newTestSession(b, key, "r1")
		for _, e := range []Event{add("host", "Hanna", "en"), give("host"), age("host"), {Type: RecordingRequested}} {
			must(b, s, e)
		}
		for i := 0; len(s.rec.Events) < n-1; i++ {
			s.Admit(48000)
			if i%2 == 0 {
				must(b, s, Event{Type: RecordingPaused})
			} else {
				must(b, s, Event{Type: RecordingResumed})
			}
		}
		must(b, s, Event{Type: RecordingStopped})
		data, _ := s.Record()
		b.Run(fmt.Sprintf("events=%d", len(s.rec.Events)), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := Verify(data, pub); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
