package vault

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkSealThroughput: encrypt + write + seal of 4 s segments (~12 KB of
// pages at 24 kbit/s would be tiny, so this uses 1 MiB segments to measure
// the vault's own cost per byte; fsync dominates small segments).
func BenchmarkSealThroughput(b *testing.B) {
	v, _ := openVault(b, b.TempDir(), newMemStore())
	w, err := v.Create(NewRecording{Title: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	fs := newFakeStream(1)
	for _, p := range fs.headers() {
		w.WritePage(p)
	}
	pages := make([][]byte, 350) // ~1 MiB
	n := 0
	for i := range pages {
		pages[i] = fs.dataPage()
		n += len(pages[i])
	}
	b.SetBytes(int64(n))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, p := range pages {
			if err := w.WritePage(p); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Seal(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	w.Close()
}

// BenchmarkSealSegment4s: one realistic segment (4 s of 24 kbit/s Opus,
// ~12 KB): the per-seal cost including two fsyncs and the metadata rewrite.
func BenchmarkSealSegment4s(b *testing.B) {
	v, _ := openVault(b, b.TempDir(), newMemStore())
	w, _ := v.Create(NewRecording{Title: "bench"})
	fs := newFakeStream(1)
	for _, p := range fs.headers() {
		w.WritePage(p)
	}
	pages := [][]byte{fs.dataPage(), fs.dataPage(), fs.dataPage(), fs.dataPage()}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, p := range pages {
			w.WritePage(p)
		}
		if err := w.Seal(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	w.Close()
}

// makeLibrary builds a vault of n closed recordings quickly: a directory per
// recording and the index, as Create+Close would leave them, without the
// per-file fsyncs. Open reads no per-recording file when the index is
// intact, so the metadata files are left out to keep setup short.
func makeLibrary(b *testing.B, n int) (string, SecretStore) {
	root := b.TempDir()
	store := newMemStore()
	v, _ := openVault(b, root, store)
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	v.mu.Lock()
	for i := 0; i < n; i++ {
		m := &meta{Format: 1, ID: newID(t0.Add(time.Duration(i) * time.Minute)), Title: "Weekly call with a customer",
			Participants: []Participant{{Name: "Ann Example", Email: "ann@example.com"}, {Name: "Bob Example", Email: "bob@example.com"}},
			Started:      t0, State: stateClosed, Sync: SyncSynced, SyncedAt: t0, PreSkip: 312, Channels: 1,
			Segments: []segMeta{{Index: 1, SHA256: "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", Size: 12000, EndGranule: 48000 * 1800}}}
		if err := os.Mkdir(filepath.Join(root, recordingsDir, m.ID), 0o700); err != nil {
			b.Fatal(err)
		}
		s := m.summary()
		v.index[m.ID] = &s
	}
	if err := v.writeIndexLocked(); err != nil {
		b.Fatal(err)
	}
	v.mu.Unlock()
	return root, store
}

// BenchmarkOpenAndList10000: open a library of 10,000 recordings (decrypt
// and parse the index, reconcile it with the directories) and list it.
// Target: < 300 ms.
func BenchmarkOpenAndList10000(b *testing.B) {
	root, store := makeLibrary(b, 10000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		v, rep, err := Open(root, Options{Secrets: store})
		if err != nil || rep.IndexRebuilt {
			b.Fatal(err, rep)
		}
		if l := v.List(); len(l) != 10000 {
			b.Fatalf("listed %d", len(l))
		}
	}
}
