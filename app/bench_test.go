package app

import (
	"fmt"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
)

// BenchmarkOpenLibrary10k measures opening the library tab with 10,000
// recordings: loading them from the backend, building the search index and
// laying out and rendering the visible rows. Target: < 300 ms per op.
func BenchmarkOpenLibrary10k(b *testing.B) {
	a := test.NewTempApp(b)
	a.Preferences().SetBool(prefFirstRunDone, true)
	fb := NewFakeBackend()
	base := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	for i := 0; i < 10000; i++ {
		fb.AddRecording(Recording{ID: fmt.Sprintf("rec-%05d", i), Title: fmt.Sprintf("Call %d with customer %d", i, i%97),
			Started: base.Add(time.Duration(i) * time.Hour), Duration: time.Duration(i%3600) * time.Second,
			Participants: []string{"Alice", fmt.Sprintf("Guest %d", i)}, Size: int64(i) * 1000, Sync: SyncState(i % 6), Progress: 0.5})
	}
	u, err := New(a, fb, false)
	if err != nil {
		b.Fatal(err)
	}
	u.win.Resize(fyne.NewSize(1000, 700))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		u.showHome(1)
		test.TapCanvas(u.win.Canvas(), fyne.NewPos(1, 1)) // forces a layout pass
		_ = u.win.Canvas().Capture()
	}
	b.StopTimer()
	if n := len(u.el); n == 0 {
		b.Fatal("library screen has no elements")
	}
}

// BenchmarkBuildMainWindow measures building the whole UI (window, tabs,
// all three home screens) over a backend with a small library.
func BenchmarkBuildMainWindow(b *testing.B) {
	a := test.NewTempApp(b)
	a.Preferences().SetBool(prefFirstRunDone, true)
	fb := NewFakeBackend()
	for i := 0; i < 20; i++ {
		fb.AddRecording(Recording{Title: fmt.Sprintf("Call %d", i), Started: time.Now().Add(-time.Duration(i) * time.Hour)})
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		u, err := New(a, fb, false)
		if err != nil {
			b.Fatal(err)
		}
		_ = u.win.Canvas().Capture()
		u.win.Close()
	}
}

// BenchmarkLibrarySearch10k measures one keystroke of search over 10,000 recordings.
func BenchmarkLibrarySearch10k(b *testing.B) {
	v := &libraryView{}
	recs := make([]Recording, 10000)
	for i := range recs {
		recs[i] = Recording{Title: fmt.Sprintf("Call %d", i), Participants: []string{"Alice", fmt.Sprintf("Guest %d", i)}}
	}
	v.set(recs)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		v.filter(fmt.Sprintf("guest %d", i%1000))
	}
	if len(v.shown) == 0 {
		b.Fatal("search found nothing")
	}
}

// FuzzLibraryFilter: whatever the user types into search, filtering never
// panics and shows only recordings whose title, participants or date match.
func FuzzLibraryFilter(f *testing.F) {
	for _, s := range []string{"", "alice", "2026-01", "  CALL ", "\xff\xfe", "ğ"} {
		f.Add(s)
	}
	recs := []Recording{{Title: "Call one", Participants: []string{"Alice"}, Started: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)},
		{Title: "İstanbul ÇAĞRI", Participants: []string{"Zoë"}}}
	f.Fuzz(func(t *testing.T, q string) {
		v := &libraryView{}
		v.set(recs)
		v.filter(q)
		if len(v.shown) > len(recs) {
			t.Fatalf("filter %q shows %d of %d", q, len(v.shown), len(recs))
		}
		if q == "" && len(v.shown) != len(recs) {
			t.Fatal("empty search hides recordings")
		}
	})
}
