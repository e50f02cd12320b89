package vault

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestRecordPlayRoundTrip(t *testing.T) {
	root := t.TempDir()
	v, rep := openVault(t, root, newMemStore())
	if !rep.Created {
		t.Fatal("a fresh vault was not reported as created")
	}
	start := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	// The participant list comes from the consent record's ParticipantAdded.
	w, err := v.Create(NewRecording{Title: "Call with ACME", Started: start,
		Record: []byte(`{"events":[{"type":"ParticipantAdded","principal":{"name":"Ann","email":"ann@example.com"}}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	fs := newFakeStream(1)
	want := writeSegments(t, w, fs, 3, 4, true)
	if err := w.SetRecord([]byte(`{"events":[1]}`)); err != nil {
		t.Fatal(err)
	}
	if got := w.SealedSamples(); got != 3*4*50*960-testPreSkip {
		t.Fatalf("SealedSamples = %d", got)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.WritePage(fs.dataPage()); err == nil {
		t.Fatal("WritePage after Close succeeded")
	}
	if got := readStream(t, v, w.ID()); !bytes.Equal(got, want) {
		t.Fatalf("stream differs: got %d bytes, want %d", len(got), len(want))
	}
	s, err := v.Get(w.ID())
	if err != nil {
		t.Fatal(err)
	}
	wantDur := time.Duration(3*4*50*960-testPreSkip) * time.Second / 48000
	if s.Title != "Call with ACME" || !s.Started.Equal(start) || s.Duration != wantDur || s.Segments != 3 ||
		s.InProgress || s.Recovered || s.Sync != SyncLocal || len(s.Participants) != 1 {
		t.Fatalf("summary = %+v", s)
	}
	segs, err := v.Segments(w.ID())
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for i, sg := range segs {
		b, err := os.ReadFile(sg.Path)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		if sg.Index != i+1 || sg.SHA256 != hex.EncodeToString(sum[:]) || sg.Size != int64(len(b)) {
			t.Fatalf("segment %d: %+v does not match its file", i+1, sg)
		}
		if sg.EndGranule != int64((i+1)*4*50*960) {
			t.Fatalf("segment %d end granule %d", i+1, sg.EndGranule)
		}
		total += sg.Size
	}
	if s.Size != total {
		t.Fatalf("size %d, segments sum to %d", s.Size, total)
	}
	rec, err := v.Record(w.ID())
	if err != nil || string(rec) != `{"events":[1]}` {
		t.Fatalf("Record = %q, %v", rec, err)
	}
	// Reopen: the index lists the same.
	v2, rep2 := openVault(t, root, v2store(t, v))
	if rep2.Created || rep2.IndexRebuilt || len(rep2.Recovered) != 0 {
		t.Fatalf("reopen report %+v", rep2)
	}
	l := v2.List()
	if len(l) != 1 || l[0].ID != w.ID() || l[0].Duration != wantDur {
		t.Fatalf("List after reopen = %+v", l)
	}
}

// v2store returns the secret store v was opened with (tests only use memStore).
func v2store(t testing.TB, v *Vault) SecretStore {
	t.Helper()
	s := newMemStore()
	s.Set(KeyringService, keyUser(v.keys.id, "age-identity"), v.keys.identity.String())
	var seed = v.keys.signer.Seed()
	s.Set(KeyringService, keyUser(v.keys.id, "ed25519-signing-key"), b64(seed))
	return s
}

func TestIDsSortByTimeAndAreValid(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var ids []string
	for i := 0; i < 200; i++ {
		id := newID(t0.Add(time.Duration(i) * time.Millisecond))
		if err := checkID(id); err != nil {
			t.Fatalf("newID made %q: %v", id, err)
		}
		ids = append(ids, id)
	}
	if !sort.StringsAreSorted(ids) {
		t.Fatal("ids made later do not sort later")
	}
	if newID(t0) == newID(t0) {
		t.Fatal("two ids of the same millisecond are equal")
	}
}

func TestListNewestFirstAndSyncState(t *testing.T) {
	v, _ := openVault(t, t.TempDir(), newMemStore())
	t0 := time.Now().Add(-time.Hour)
	var ids []string
	for i := 0; i < 3; i++ {
		w, err := v.Create(NewRecording{Title: "r", Started: t0.Add(time.Duration(i) * time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		writeSegments(t, w, newFakeStream(uint64(i)), 1, 1, true)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, w.ID())
	}
	l := v.List()
	if len(l) != 3 || l[0].ID != ids[2] || l[2].ID != ids[0] {
		t.Fatalf("List order wrong: %v vs %v", l, ids)
	}
	at := time.Date(2026, 2, 2, 0, 0, 0, 0, time.UTC)
	if err := v.SetSyncState(ids[1], SyncSynced, at); err != nil {
		t.Fatal(err)
	}
	s, _ := v.Get(ids[1])
	if s.Sync != SyncSynced || !s.SyncedAt.Equal(at) {
		t.Fatalf("sync state not stored: %+v", s)
	}
	if err := v.SetSyncState(ids[1], "bogus", at); err == nil {
		t.Fatal("a bogus sync state was accepted")
	}
	up, err := v.Unsynced()
	if err != nil {
		t.Fatal(err)
	}
	if len(up) != 2 || up[0].ID != ids[0] || up[1].ID != ids[2] || !up[0].Stopped || len(up[0].Segments) != 1 {
		t.Fatalf("Unsynced = %+v", up)
	}
}

func TestExportWritesOpusRecordAndExtras(t *testing.T) {
	v, _ := openVault(t, t.TempDir(), newMemStore())
	w, err := v.Create(NewRecording{Title: "Q1 review: ACME/Globex", Record: []byte(`{"a":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	want := writeSegments(t, w, newFakeStream(3), 2, 2, true)
	w.Close()
	out := filepath.Join(t.TempDir(), "export")
	paths, err := v.Export(w.ID(), out, map[string][]byte{"receipt-ann.txt": []byte("receipt")})
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 3 {
		t.Fatalf("Export wrote %v", paths)
	}
	got, err := os.ReadFile(filepath.Join(out, "Q1 review_ ACME_Globex.opus"))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("exported audio wrong (%d bytes, %v)", len(got), err)
	}
	rec, _ := os.ReadFile(filepath.Join(out, "consent-record.json"))
	if !strings.Contains(string(rec), `"a": 1`) {
		t.Fatalf("consent-record.json = %q", rec)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "receipt-ann.txt")); string(b) != "receipt" {
		t.Fatalf("extra = %q", b)
	}
	// A second export into the same folder refuses to overwrite.
	if _, err := v.Export(w.ID(), out, nil); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("overwriting export: %v", err)
	}
}

func TestRetentionNeverDeletesUnsynced(t *testing.T) {
	v, _ := openVault(t, t.TempDir(), newMemStore())
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	mk := func(started time.Time) string {
		w, err := v.Create(NewRecording{Title: "r", Started: started})
		if err != nil {
			t.Fatal(err)
		}
		writeSegments(t, w, newFakeStream(9), 1, 1, true)
		w.Close()
		return w.ID()
	}
	oldSynced := mk(now.AddDate(0, 0, -40))
	v.SetSyncState(oldSynced, SyncSynced, now.AddDate(0, 0, -31))
	recentSynced := mk(now.AddDate(0, 0, -5))
	v.SetSyncState(recentSynced, SyncSynced, now.AddDate(0, 0, -4))
	ancientUnsynced := mk(now.AddDate(-2, 0, 0))
	ancientSynced := mk(now.AddDate(-2, 0, 0))
	v.SetSyncState(ancientSynced, SyncUploading, now)
	veryOldSyncedLate := mk(now.AddDate(-2, 0, 0))
	v.SetSyncState(veryOldSyncedLate, SyncSynced, now.AddDate(0, 0, -1))

	rep, err := v.Retention(RetentionPolicy{AfterSync: 30 * 24 * time.Hour, MaxAge: 365 * 24 * time.Hour}, now)
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(rep.Deleted)
	wantDel := []string{oldSynced, veryOldSyncedLate}
	sort.Strings(wantDel)
	if strings.Join(rep.Deleted, ",") != strings.Join(wantDel, ",") {
		t.Fatalf("deleted %v, want %v", rep.Deleted, wantDel)
	}
	var overdue []string
	for _, s := range rep.Overdue {
		overdue = append(overdue, s.ID)
	}
	sort.Strings(overdue)
	wantOver := []string{ancientUnsynced, ancientSynced}
	sort.Strings(wantOver)
	if strings.Join(overdue, ",") != strings.Join(wantOver, ",") {
		t.Fatalf("overdue %v, want %v", overdue, wantOver)
	}
	for _, id := range []string{recentSynced, ancientUnsynced, ancientSynced} {
		if _, err := v.Get(id); err != nil {
			t.Errorf("%s was deleted: %v", id, err)
		}
	}
	if td, _ := v.PendingDeletions(); len(td) != 0 {
		t.Fatalf("retention queued server deletions: %v", td)
	}
}

func TestKeysLiveOnlyInTheKeyring(t *testing.T) {
	root := t.TempDir()
	store := newMemStore()
	v, _ := openVault(t, root, store)
	if len(store.m) != 2 {
		t.Fatalf("keyring holds %d entries, want 2", len(store.m))
	}
	scanForPlaintext(t, "vault dir", [][]byte{[]byte("AGE-SECRET-KEY"), []byte(b64(v.keys.signer.Seed()))}, root)
	v2, rep := openVault(t, root, store)
	if rep.Created || v2.Recipient() != v.Recipient() || !bytes.Equal(v2.SigningPublicKey(), v.SigningPublicKey()) {
		t.Fatal("reopening made or loaded different keys")
	}
}

func TestEscrowRecipientGetsEverySegment(t *testing.T) {
	v, _ := openVault(t, t.TempDir(), newMemStore())
	other, _ := openVault(t, t.TempDir(), newMemStore())
	if err := v.SetEscrow("age1nonsense"); err == nil {
		t.Fatal("a malformed escrow recipient was accepted")
	}
	if err := v.SetEscrow(other.Recipient()); err != nil {
		t.Fatal(err)
	}
	w, _ := v.Create(NewRecording{Title: "x"})
	want := writeSegments(t, w, newFakeStream(4), 1, 2, true)
	w.Close()
	segs, _ := v.Segments(w.ID())
	ct, _ := os.ReadFile(segs[0].Path)
	pt, err := decrypt(ct, other.keys.identity, "seg")
	if err != nil || !bytes.Equal(pt, want) {
		t.Fatalf("escrow key cannot decrypt the segment: %v", err)
	}
	// The escrow setting survives a reopen.
	v2, _ := openVault(t, v.root, v2store(t, v))
	if v2.keys.escrow == nil || v2.keys.escrow.String() != other.Recipient() {
		t.Fatal("escrow recipient lost on reopen")
	}
}

// The sync client and the UI read the library while a recording is written.
func TestConcurrentUseWhileRecording(t *testing.T) {
	v, _ := openVault(t, t.TempDir(), newMemStore())
	w, err := v.Create(NewRecording{Title: "live"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		writeSegments(t, w, newFakeStream(1), 6, 1, true)
	}()
	for i := 0; ; i++ {
		select {
		case <-done:
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			s, _ := v.Get(w.ID())
			if s.Segments != 6 || s.Sync != SyncUploading {
				t.Fatalf("after concurrent use: %+v", s)
			}
			return
		default:
		}
		v.List()
		if _, err := v.Unsynced(); err != nil {
			t.Fatal(err)
		}
		if err := v.SetSyncState(w.ID(), SyncUploading, time.Time{}); err != nil {
			t.Fatal(err)
		}
		_ = w.SealedSamples()
	}
}
