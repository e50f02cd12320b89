package vault

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assent-app/assent/consent"
)

const namedRecord = `{"events":[{"type":"ParticipantAdded","principal":{"name":"Zora Late","email":"zora@example.com"}}]}`

// Item 3 of issue 15: names reach the disk no earlier than the consent
// record that names them; the list comes from the record (late joiners too).
func TestNothingLostOnCrash_NoNamesBeforeTheConsentRecord(t *testing.T) {
	root := t.TempDir()
	v, _ := openVault(t, root, newMemStore())
	w, err := v.Create(NewRecording{Title: "t", Participants: []Participant{{Name: "Zora Late", Email: "zora@example.com"}}})
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := v.Get(w.ID()); len(s.Participants) != 0 {
		t.Fatalf("names listed before any consent record: %+v", s.Participants)
	}
	m, err := v.readMeta(w.ID())
	if err != nil || len(m.Participants) != 0 {
		t.Fatalf("metadata names people before the record does: %v %+v", err, m)
	}
	if err := w.SetRecord([]byte(namedRecord)); err != nil {
		t.Fatal(err)
	}
	if s, _ := v.Get(w.ID()); len(s.Participants) != 1 || s.Participants[0].Name != "Zora Late" {
		t.Fatalf("after the record named them: %+v", s.Participants)
	}
	if m, _ := v.readMeta(w.ID()); len(m.Participants) != 1 {
		t.Fatalf("metadata after the record named them: %+v", m.Participants)
	}
	// A late joiner appears once the record names them (list and search
	// use the summary's participants).
	late := strings.Replace(namedRecord, `]}`, `,{"type":"ParticipantAdded","principal":{"name":"Lars Late"}}]}`, 1)
	if err := w.SetRecord([]byte(late)); err != nil {
		t.Fatal(err)
	}
	if s, _ := v.Get(w.ID()); len(s.Participants) != 2 || s.Participants[1].Name != "Lars Late" {
		t.Fatalf("late joiner missing: %+v", s.Participants)
	}
}

func FuzzParticipantsOf(f *testing.F) {
	f.Add([]byte(namedRecord))
	f.Add([]byte(`{"events":[{"type":"ParticipantAdded"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ps, ok := participantsOf(b)
		if !ok && len(ps) != 0 {
			t.Fatalf("unreadable record named %+v", ps)
		}
	})
}

// A call that admitted no audio is removed on recovery, as a refusal is;
// the library never shows a 0:00 "recovered" entry.
func TestNothingLostOnCrash_AudioFreeRecordingRemovedOnRecovery(t *testing.T) {
	for _, synced := range []bool{false, true} {
		root := t.TempDir()
		v, _ := openVault(t, root, newMemStore())
		w, _ := v.Create(NewRecording{Title: "t", Record: []byte(namedRecord)})
		fs := newFakeStream(5)
		for _, p := range fs.headers() {
			w.WritePage(p)
		}
		if synced {
			if err := v.SetSyncState(w.ID(), SyncUploading, time.Time{}); err != nil {
				t.Fatal(err)
			}
		}
		simulateCrash(w) // killed while people were still reading the notice
		v2, rep, err := Open(root, Options{Secrets: v2store(t, v), Recover: func(string, []byte, SealedAudio) ([]byte, error) {
			t.Error("Recover called for a recording without audio")
			return nil, errors.New("no")
		}})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Recovered) != 1 || !rep.Recovered[0].Removed || rep.Recovered[0].Err != nil {
			t.Fatalf("report %+v", rep.Recovered)
		}
		if len(v2.List()) != 0 {
			t.Fatalf("library shows %+v", v2.List())
		}
		mustNotExist(t, filepath.Join(root, recordingsDir, w.ID()))
		tomb, _ := v2.PendingDeletions()
		if synced != (len(tomb) == 1) {
			t.Fatalf("synced=%v: tombstones %+v", synced, tomb)
		}
	}
}

// The seal hook runs after the segment is durable and before the metadata
// (and so the sync outbox) lists it; if it fails the segment is not kept.
func TestNothingLostOnCrash_SealHookBeforeSyncSeesSegment(t *testing.T) {
	root := t.TempDir()
	v, _ := openVault(t, root, newMemStore())
	w, _ := v.Create(NewRecording{Title: "t", Record: []byte(namedRecord)})
	var refs []consent.SegmentRef
	w.SetSealHook(func(r consent.SegmentRef) error {
		segs, _ := v.Segments(w.ID())
		if len(segs) != r.Index-1 {
			t.Errorf("segment %d visible to sync before the hook ran", r.Index)
		}
		if _, err := os.Stat(filepath.Join(root, recordingsDir, w.ID(), segName(r.Index))); err != nil {
			t.Errorf("hook ran before segment %d was on disk: %v", r.Index, err)
		}
		refs = append(refs, r)
		// The hook may store the record (as recording's sealer does).
		return w.SetRecord([]byte(namedRecord))
	})
	writeSegments(t, w, newFakeStream(6), 2, 2, true)
	segs, _ := v.Segments(w.ID())
	if len(refs) != 2 || len(segs) != 2 {
		t.Fatalf("refs %+v segs %+v", refs, segs)
	}
	for i, r := range refs {
		if r.SHA256 != segs[i].SHA256 || r.Size != segs[i].Size || r.End != segs[i].EndGranule-testPreSkip {
			t.Errorf("segment %d: hook saw %+v, metadata %+v", i+1, r, segs[i])
		}
	}
	if refs[0].Start != 0 || refs[1].Start != refs[0].End {
		t.Errorf("segments not contiguous: %+v", refs)
	}
	w.SetSealHook(func(consent.SegmentRef) error { return errors.New("the record could not be saved") })
	w.WritePage(newFakeStream(7).dataPage())
	if err := w.Seal(); err == nil || !strings.Contains(err.Error(), "could not be saved") {
		t.Fatalf("Seal with a failing hook: %v", err)
	}
	mustNotExist(t, filepath.Join(root, recordingsDir, w.ID(), segName(3)))
	if segs, _ := v.Segments(w.ID()); len(segs) != 2 {
		t.Fatalf("an unbound segment was listed: %d", len(segs))
	}
}

// A writer that died after closing its metadata leaves writer.lock; the
// next Open removes it (and reconciles the index).
func TestNothingLostOnCrash_StaleLockRemoved(t *testing.T) {
	root := t.TempDir()
	v, _ := openVault(t, root, newMemStore())
	w, _ := v.Create(NewRecording{Title: "t", Record: []byte(namedRecord)})
	writeSegments(t, w, newFakeStream(8), 1, 1, true)
	m := *w.m
	m.State = stateClosed
	if err := v.writeMeta(&m); err != nil { // killed right after this write
		t.Fatal(err)
	}
	simulateCrash(w)
	lock := filepath.Join(root, recordingsDir, w.ID(), lockFile)
	if _, err := os.Stat(lock); err != nil {
		t.Fatal("no lock to start with")
	}
	v2, rep, err := Open(root, Options{Secrets: v2store(t, v)})
	if err != nil || len(rep.Recovered) != 0 {
		t.Fatalf("%v %+v", err, rep)
	}
	mustNotExist(t, lock)
	if s, _ := v2.Get(w.ID()); s.InProgress {
		t.Fatalf("still in progress: %+v", s)
	}
}
