package vault

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/assent-app/assent/internal/testenv"
)

var plaintextNeedles = [][]byte{
	[]byte("OggS"), []byte("OpusHead"), []byte("OpusTags"),
	[]byte("Xyzzy Secret Title"), []byte("Zebulon Participant"), []byte("zebulon@example.com"),
	[]byte("ConsentGiven"),
}

// Hard rule 2: audio, titles, participants and consent records reach disk
// only as ciphertext — in the vault and in the temp dir — while recording,
// after sealing, after closing and after library operations.
func TestNeverPlaintextAtRest_DuringAndAfterRecording(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	root := t.TempDir()
	v, _ := openVault(t, root, newMemStore())
	w, err := v.Create(NewRecording{Title: "Xyzzy Secret Title",
		Participants: []Participant{{Name: "Zebulon Participant", Email: "zebulon@example.com"}},
		Record:       []byte(`{"events":[{"state":"ConsentGiven","principal":"zebulon@example.com"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	fs := newFakeStream(5)
	for _, p := range fs.headers() {
		if err := w.WritePage(p); err != nil {
			t.Fatal(err)
		}
	}
	scanForPlaintext(t, "after the header pages", plaintextNeedles, root, tmp)
	for seg := 0; seg < 3; seg++ {
		for i := 0; i < 40; i++ { // ~120 KB: several age chunks reach the .part file
			if err := w.WritePage(fs.dataPage()); err != nil {
				t.Fatal(err)
			}
			if i%10 == 9 {
				if parts, _ := filepath.Glob(filepath.Join(root, "recordings", w.ID(), "*.part")); len(parts) != 1 {
					t.Fatalf("expected one open .part segment, found %v", parts)
				}
				scanForPlaintext(t, fmt.Sprintf("while writing segment %d", seg+1), plaintextNeedles, root, tmp)
			}
		}
		if err := w.Seal(); err != nil {
			t.Fatal(err)
		}
		scanForPlaintext(t, fmt.Sprintf("after sealing segment %d", seg+1), plaintextNeedles, root, tmp)
	}
	if err := w.SetRecord([]byte(`{"events":[{"state":"ConsentGiven","principal":"Zebulon Participant"}]}`)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := v.SetSyncState(w.ID(), SyncUploading, time.Time{}); err != nil {
		t.Fatal(err)
	}
	readStream(t, v, w.ID())
	v2, _ := openVault(t, root, v2store(t, v))
	v2.List()
	n := scanForPlaintext(t, "after closing and reopening", plaintextNeedles, root, tmp)
	if n < 6 { // vault.json, index, meta, record, 3 segments
		t.Fatalf("scan saw only %d files; the test is not looking at the vault", n)
	}
}

// Hard rule 2: with no usable keyring nothing is created and nothing is
// stored in plaintext.
func TestNeverPlaintextAtRest_NoKeyringNoVault(t *testing.T) {
	root := t.TempDir()
	store := newMemStore()
	store.err = errors.New(`exec: "dbus-launch": executable file not found in $PATH`)
	if _, _, err := Open(root, Options{Secrets: store}); err == nil {
		t.Fatal("Open without a keyring succeeded")
	}
	mustNotExist(t, filepath.Join(root, configFile))
	if ents := listDir(filepath.Join(root, recordingsDir)); len(ents) != 0 {
		t.Fatalf("files were created without keys: %v", ents)
	}
}

const crashChildEnv = "ASSENT_VAULT_CRASH_CHILD"

// TestCrashChild is the subprocess of TestNothingLostOnCrash_KillMidSegment;
// it does nothing in a normal run.
func TestCrashChild(t *testing.T) {
	root := os.Getenv(crashChildEnv)
	if root == "" {
		return // only runs as the subprocess of TestNothingLostOnCrash_KillMidSegment
	}
	lines := strings.Split(os.Getenv(crashChildEnv+"_KEYS"), "\n")
	store := newMemStore()
	store.Set(KeyringService, lines[0], lines[1])
	store.Set(KeyringService, lines[2], lines[3])
	v, _, err := Open(root, Options{Secrets: store})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(3)
	}
	w, err := v.Create(NewRecording{Title: "crash", Record: []byte(`{"events":["started"]}`)})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(3)
	}
	fs := newFakeStream(42)
	writeSegments(t, w, fs, 3, 4, true)
	if err := w.SetRecord([]byte(`{"events":["started","paused"]}`)); err != nil {
		fmt.Println("ERR", err)
		os.Exit(3)
	}
	for i := 0; i < 30; i++ { // ~90 KB into segment 4: its .part file has ciphertext
		if err := w.WritePage(fs.dataPage()); err != nil {
			fmt.Println("ERR", err)
			os.Exit(3)
		}
	}
	fmt.Println("READY", w.ID())
	time.Sleep(time.Minute) // killed here
	os.Exit(4)
}

// Hard rule 3: a process killed (SIGKILL) in the middle of a segment loses
// only that segment; the next Open keeps every sealed segment, removes the
// .part, reports the recording as recovered with its sealed length and
// stores the consent record the caller closed.
func TestNothingLostOnCrash_KillMidSegment(t *testing.T) {
	root := t.TempDir()
	store := newMemStore()
	v, _ := openVault(t, root, store)
	var keys []string
	for k, s := range store.m {
		keys = append(keys, strings.TrimPrefix(k, KeyringService+"\x00"), s)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+root, crashChildEnv+"_KEYS="+strings.Join(keys, "\n"))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	var id string
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == "READY" {
			id = f[1]
			break
		} else if len(f) > 0 && f[0] == "ERR" {
			t.Fatalf("child: %s", sc.Text())
		}
	}
	if id == "" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal("child never got ready")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, out)
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child was not killed by SIGKILL: %v", err)
	}
	dir := filepath.Join(root, recordingsDir, id)
	part := filepath.Join(dir, "seg-000004.age.part")
	if st, err := os.Stat(part); err != nil || st.Size() < 64<<10 {
		t.Fatalf("the kill did not land mid-segment: %v", err)
	}
	scanForPlaintext(t, "after the crash", plaintextNeedles, root)

	var gotID string
	var gotRecord []byte
	var gotSamples int64
	v2, rep, err := Open(root, Options{Secrets: v2store(t, v), Recover: func(id string, rec []byte, sealed SealedAudio) ([]byte, error) {
		gotID, gotRecord, gotSamples = id, rec, sealed.Samples
		return []byte(`{"events":["started","paused","recovered"]}`), nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	wantSamples := int64(3*4*50*960 - testPreSkip)
	if len(rep.Recovered) != 1 || rep.Recovered[0].ID != id || rep.Recovered[0].Segments != 3 ||
		rep.Recovered[0].SealedSamples != wantSamples || rep.Recovered[0].Err != nil {
		t.Fatalf("recovery report %+v", rep.Recovered)
	}
	if gotID != id || string(gotRecord) != `{"events":["started","paused"]}` || gotSamples != wantSamples {
		t.Fatalf("Recover callback got %s %q %d", gotID, gotRecord, gotSamples)
	}
	mustNotExist(t, part)
	// The sealed stream is exactly what the child wrote into segments 1-3.
	fs := newFakeStream(42)
	var want bytes.Buffer
	for _, p := range fs.headers() {
		want.Write(p)
	}
	for i := 0; i < 12; i++ {
		want.Write(fs.dataPage())
	}
	if got := readStream(t, v2, id); !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("recovered stream differs (%d vs %d bytes)", len(got), want.Len())
	}
	s, _ := v2.Get(id)
	if !s.Recovered || s.InProgress || s.Segments != 3 || s.StopReason != "crash" {
		t.Fatalf("summary after recovery %+v", s)
	}
	if rec, _ := v2.Record(id); string(rec) != `{"events":["started","paused","recovered"]}` {
		t.Fatalf("closed record not stored: %q", rec)
	}
	// Recovery happens once.
	_, rep3, err := Open(root, Options{Secrets: v2store(t, v), Recover: func(string, []byte, SealedAudio) ([]byte, error) {
		t.Error("recovered twice")
		return nil, nil
	}})
	if err != nil || len(rep3.Recovered) != 0 {
		t.Fatalf("second reopen: %v %+v", err, rep3)
	}
}

// Hard rule 3: a crash after a segment was renamed into place but before the
// metadata listed it loses nothing: recovery adopts the segment from disk.
func TestNothingLostOnCrash_SealedBeforeMetadataWritten(t *testing.T) {
	root := t.TempDir()
	v, _ := openVault(t, root, newMemStore())
	w, _ := v.Create(NewRecording{Title: "t"})
	fs := newFakeStream(8)
	want := writeSegments(t, w, fs, 1, 3, true)
	metaPath := filepath.Join(root, recordingsDir, w.ID(), metaFile)
	stale, _ := os.ReadFile(metaPath)
	want = append(want, writeSegments(t, w, fs, 1, 3, false)...)
	// "Crash": the metadata is the one from before segment 2 was sealed.
	os.WriteFile(metaPath, stale, 0o600)
	simulateCrash(w)
	v2, rep, err := Open(root, Options{Secrets: v2store(t, v)})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Recovered) != 1 || rep.Recovered[0].Segments != 2 || rep.Recovered[0].SealedSamples != 6*50*960-testPreSkip {
		t.Fatalf("report %+v", rep.Recovered)
	}
	if got := readStream(t, v2, w.ID()); !bytes.Equal(got, want) {
		t.Fatal("recovered stream differs")
	}
	// A crash right after Create's mkdir leaves an empty directory: removed quietly.
	empty := filepath.Join(root, recordingsDir, newID(time.Now()))
	os.Mkdir(empty, 0o700)
	_, rep, err = Open(root, Options{Secrets: v2store(t, v)})
	if err != nil || len(rep.Damaged) != 0 {
		t.Fatalf("empty recording dir: %v %+v", err, rep)
	}
	mustNotExist(t, empty)
}

// Hard rule 3: a full disk stops the recording with a clear error, keeps
// every sealed segment and leaves a library that opens. Uses a real tmpfs
// of 2 MiB (needs root to mount).
func TestNothingLostOnCrash_DiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt).CombinedOutput(); err != nil {
		if testenv.CI() {
			t.Fatalf("mount tmpfs: %v %s", err, out)
		}
		t.Skipf("cannot mount a tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	v, _ := openVault(t, mnt, newMemStore())
	w, err := v.Create(NewRecording{Title: "t"})
	if err != nil {
		t.Fatal(err)
	}
	fs := newFakeStream(11)
	var sealed bytes.Buffer
	var pending bytes.Buffer
	for _, p := range fs.headers() {
		w.WritePage(p)
		pending.Write(p)
	}
	var failure error
	for i := 0; i < 2000 && failure == nil; i++ {
		p := fs.dataPage()
		if err := w.WritePage(p); err != nil {
			failure = err
			break
		}
		pending.Write(p)
		if i%4 == 3 {
			if err := w.Seal(); err != nil {
				failure = err
				break
			}
			sealed.Write(pending.Bytes())
			pending.Reset()
		}
	}
	if failure == nil {
		t.Fatal("2 MiB filled without an error")
	}
	if !errors.Is(failure, ErrDiskFull) || !strings.Contains(failure.Error(), "disk is full") || !strings.Contains(failure.Error(), "kept") {
		t.Fatalf("disk-full error is not clear: %v", failure)
	}
	if err := w.WritePage(fs.dataPage()); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("writing after disk full: %v", err)
	}
	if err := w.Close(); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("Close after disk full: %v", err)
	}
	if parts, _ := filepath.Glob(filepath.Join(mnt, recordingsDir, w.ID(), "*.part")); len(parts) != 0 {
		t.Fatalf(".part left behind: %v", parts)
	}
	if sealed.Len() == 0 {
		t.Fatal("nothing was sealed before the disk filled")
	}
	// If the disk filled while the metadata was updated after a rename, the
	// renamed segment is durable and kept too.
	got := readStream(t, v, w.ID())
	if !bytes.Equal(got, sealed.Bytes()) && !bytes.Equal(got, append(sealed.Bytes(), pending.Bytes()...)) {
		t.Fatalf("sealed audio not kept: %d vs %d (+%d) bytes", len(got), sealed.Len(), pending.Len())
	}
	s, _ := v.Get(w.ID())
	if s.InProgress || s.StopReason != "disk_full" {
		t.Fatalf("summary %+v", s)
	}
	v2, rep, err := Open(mnt, Options{Secrets: v2store(t, v)})
	if err != nil || len(rep.Damaged) != 0 {
		t.Fatalf("reopen after disk full: %v %+v", err, rep)
	}
	if got2 := readStream(t, v2, w.ID()); !bytes.Equal(got2, got) {
		t.Fatal("sealed audio lost after reopen")
	}
}

// Hard rule 5: Delete removes every file and the index entry.
func TestDeleteMeansDelete_LocalRecording(t *testing.T) {
	root := t.TempDir()
	v, _ := openVault(t, root, newMemStore())
	var ids []string
	for i := 0; i < 2; i++ {
		w, _ := v.Create(NewRecording{Title: "t", Record: []byte(`{}`)})
		writeSegments(t, w, newFakeStream(uint64(i)), 2, 2, true)
		w.Close()
		ids = append(ids, w.ID())
	}
	if err := v.Delete(ids[0]); err != nil {
		t.Fatal(err)
	}
	mustNotExist(t, filepath.Join(root, recordingsDir, ids[0]))
	mustNotExist(t, filepath.Join(root, recordingsDir, ids[0]+deletingSuffix))
	if got := listDir(filepath.Join(root, recordingsDir)); len(got) != 1 || got[0] != ids[1] {
		t.Fatalf("recordings dir holds %v", got)
	}
	if _, err := v.Get(ids[0]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after delete: %v", err)
	}
	ct, _ := os.ReadFile(filepath.Join(root, indexFile))
	pt, err := decrypt(ct, v.keys.identity, "index")
	if err != nil || bytes.Contains(pt, []byte(ids[0])) || !bytes.Contains(pt, []byte(ids[1])) {
		t.Fatalf("index still names the deleted recording (or lost the other): %v", err)
	}
	if td, _ := v.PendingDeletions(); len(td) != 0 {
		t.Fatalf("a never-synced recording queued a server deletion: %v", td)
	}
	v2, _ := openVault(t, root, v2store(t, v))
	if l := v2.List(); len(l) != 1 || l[0].ID != ids[1] {
		t.Fatalf("after reopen: %+v", l)
	}
	if err := v2.Delete(ids[0]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleting twice: %v", err)
	}
}

// Hard rule 5: deleting a synced recording queues a tombstone for the sync
// client that survives restarts until the server confirms.
func TestDeleteMeansDelete_SyncedQueuesServerDeletion(t *testing.T) {
	root := t.TempDir()
	v, _ := openVault(t, root, newMemStore())
	w, _ := v.Create(NewRecording{Title: "t"})
	writeSegments(t, w, newFakeStream(1), 1, 1, true)
	w.Close()
	if err := v.MarkSynced(w.ID()); err != nil {
		t.Fatal(err)
	}
	if err := v.Delete(w.ID()); err != nil {
		t.Fatal(err)
	}
	mustNotExist(t, filepath.Join(root, recordingsDir, w.ID()))
	v2, _ := openVault(t, root, v2store(t, v))
	td, err := v2.PendingDeletions()
	if err != nil || len(td) != 1 || td[0].ID != w.ID() {
		t.Fatalf("tombstones %v %v", td, err)
	}
	if err := v2.DeletionConfirmed(w.ID()); err != nil {
		t.Fatal(err)
	}
	if td, _ := v2.PendingDeletions(); len(td) != 0 {
		t.Fatalf("tombstone not cleared: %v", td)
	}
}

// Hard rule 5: a delete interrupted by a crash is finished at the next Open,
// and a recording still recording cannot be deleted under the writer.
func TestDeleteMeansDelete_InterruptedDeleteFinishedAtOpen(t *testing.T) {
	root := t.TempDir()
	v, _ := openVault(t, root, newMemStore())
	w, _ := v.Create(NewRecording{Title: "t"})
	writeSegments(t, w, newFakeStream(1), 1, 1, true)
	if err := v.Delete(w.ID()); err == nil || !strings.Contains(err.Error(), "stop it") {
		t.Fatalf("deleting a live recording: %v", err)
	}
	w.Close()
	dir := filepath.Join(root, recordingsDir, w.ID())
	os.Rename(dir, dir+deletingSuffix) // the first step of Delete, then "crash"
	v2, _ := openVault(t, root, v2store(t, v))
	mustNotExist(t, dir+deletingSuffix)
	if len(v2.List()) != 0 {
		t.Fatal("interrupted delete still listed")
	}
}

// Hard rule 3: if the caller cannot close a recovered recording's consent
// record, the recording stays in progress (nothing is lost) and is offered
// again at the next Open; the user can still delete it.
func TestNothingLostOnCrash_RecoverCallbackFailsIsRetried(t *testing.T) {
	root := t.TempDir()
	v, _ := openVault(t, root, newMemStore())
	w, _ := v.Create(NewRecording{Title: "t", Record: []byte(`{"n":1}`)})
	want := writeSegments(t, w, newFakeStream(3), 2, 1, true)
	w.WritePage(newFakeStream(4).dataPage()) // unsealed; the writer is abandoned as in a crash
	simulateCrash(w)
	calls := 0
	failing := func(string, []byte, SealedAudio) ([]byte, error) { calls++; return nil, errors.New("signer not ready") }
	v2, rep, err := Open(root, Options{Secrets: v2store(t, v), Recover: failing})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Recovered) != 1 || rep.Recovered[0].Err == nil || !strings.Contains(rep.Recovered[0].Err.Error(), "signer not ready") {
		t.Fatalf("report %+v", rep.Recovered)
	}
	if s, _ := v2.Get(w.ID()); !s.InProgress {
		t.Fatal("a recording whose record could not be closed was marked closed")
	}
	mustNotExist(t, filepath.Join(root, recordingsDir, w.ID(), "seg-000003.age.part"))
	if !bytes.Equal(readStream(t, v2, w.ID()), want) {
		t.Fatal("sealed audio lost")
	}
	v3, rep, err := Open(root, Options{Secrets: v2store(t, v), Recover: func(id string, rec []byte, n SealedAudio) ([]byte, error) {
		return []byte(`{"n":2}`), nil
	}})
	if err != nil || len(rep.Recovered) != 1 || rep.Recovered[0].Err != nil || calls != 1 {
		t.Fatalf("retry: %v %+v calls=%d", err, rep.Recovered, calls)
	}
	if s, _ := v3.Get(w.ID()); s.InProgress || !s.Recovered {
		t.Fatalf("after retry %+v", s)
	}
	// A recording stuck in progress (from a dead process) can be deleted.
	v4, _, _ := Open(t.TempDir(), Options{Secrets: newMemStore()})
	w4, _ := v4.Create(NewRecording{Title: "stuck"})
	writeSegments(t, w4, newFakeStream(1), 1, 1, true)
	simulateCrash(w4)
	v5, _, err := Open(v4.root, Options{Secrets: v2store(t, v4), Recover: failing})
	if err != nil {
		t.Fatal(err)
	}
	if err := v5.Delete(w4.ID()); err != nil {
		t.Fatalf("deleting a stuck recording: %v", err)
	}
}

// A recording another process is writing right now is alive, not crashed:
// opening the vault elsewhere must not "recover" (and cut) it, nor delete it.
func TestNothingLostOnCrash_LiveRecordingElsewhereIsLeftAlone(t *testing.T) {
	root := t.TempDir()
	v, _ := openVault(t, root, newMemStore())
	w, _ := v.Create(NewRecording{Title: "live"})
	fs := newFakeStream(2)
	writeSegments(t, w, fs, 1, 1, true)
	w.WritePage(fs.dataPage()) // segment 2 open
	v2, rep, err := Open(root, Options{Secrets: v2store(t, v), Recover: func(string, []byte, SealedAudio) ([]byte, error) {
		t.Error("a live recording was offered for recovery")
		return nil, nil
	}})
	if err != nil || len(rep.Recovered) != 0 {
		t.Fatalf("%v %+v", err, rep)
	}
	if _, err := os.Stat(filepath.Join(root, recordingsDir, w.ID(), "seg-000002.age.part")); err != nil {
		t.Fatal("the live segment was removed")
	}
	if err := v2.Delete(w.ID()); err == nil || !strings.Contains(err.Error(), "another Assent process") {
		t.Fatalf("deleting a recording live elsewhere: %v", err)
	}
	if err := w.Seal(); err != nil {
		t.Fatalf("the live writer was disturbed: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	mustNotExist(t, filepath.Join(root, recordingsDir, w.ID(), lockFile))
}
