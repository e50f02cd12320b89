package vault

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
)

func wantErrText(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want one mentioning %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not say %q", err, p)
		}
	}
}

// Measured go-keyring error texts (see /work/shared/TESTING.md).
func TestBadInputGetsClearError_KeyringProblems(t *testing.T) {
	cases := []struct {
		name string
		err  string
		want KeyringProblem
		says string
	}{
		{"no bus", `exec: "dbus-launch": executable file not found in $PATH`, KeyringNoBus, "no desktop session bus is running"},
		{"no service", `The name org.freedesktop.secrets was not provided by any .service files`, KeyringUnavailable, "no system keyring (Secret Service) is running"},
		{"locked", `failed to unlock correct collection '/org/freedesktop/secrets/aliases/default'`, KeyringLocked, "the system keyring is locked"},
		{"timeout", ErrKeyringTimeout.Error(), KeyringFailed, "the system keyring failed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			store := newMemStore()
			store.err = errors.New(c.err)
			_, _, err := Open(t.TempDir(), Options{Secrets: store})
			var ke *KeyringError
			if !errors.As(err, &ke) || ke.Problem != c.want {
				t.Fatalf("got %v, want KeyringError problem %d", err, c.want)
			}
			wantErrText(t, err, c.says, "nothing was recorded or stored unencrypted")
			for _, leak := range []string{"freedesktop", "dbus-launch", "/org/", "vault:"} {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("message shows %q to the user: %v", leak, err)
				}
			}
		})
	}
}

func TestBadInputGetsClearError_KeyMissingOrWrong(t *testing.T) {
	root := t.TempDir()
	v, _ := openVault(t, root, newMemStore())
	_, _, err := Open(root, Options{Secrets: newMemStore()})
	var ke *KeyringError
	if !errors.As(err, &ke) || ke.Problem != KeyMissing {
		t.Fatalf("empty keyring: %v", err)
	}
	wantErrText(t, err, "does not hold this library's key")
	if !errors.Is(err, ErrKeyMissing) {
		t.Errorf("%v is not ErrKeyMissing", err)
	}

	// The keyring holds another identity under this vault's key id.
	other, _ := age.GenerateX25519Identity()
	store := v2store(t, v).(*memStore)
	store.Set(KeyringService, keyUser(v.keys.id, "age-identity"), other.String())
	_, _, err = Open(root, Options{Secrets: store})
	if !errors.Is(err, ErrWrongKey) {
		t.Fatalf("wrong key: %v", err)
	}
	wantErrText(t, err, "does not match", "restore")

	// A file of another vault copied in: Open reports it, the rest works.
	w, _ := v.Create(NewRecording{Title: "mine"})
	w.Close()
	foreign, _ := openVault(t, t.TempDir(), newMemStore())
	fw, _ := foreign.Create(NewRecording{Title: "theirs"})
	fw.Close()
	os.Rename(filepath.Join(foreign.root, recordingsDir, fw.ID()), filepath.Join(root, recordingsDir, fw.ID()))
	v2, rep, err := Open(root, Options{Secrets: v2store(t, v)})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Damaged) != 1 || rep.Damaged[0].ID != fw.ID() || !errors.Is(rep.Damaged[0].Err, ErrWrongKey) {
		t.Fatalf("foreign recording not reported: %+v", rep.Damaged)
	}
	wantErrText(t, rep.Damaged[0].Err, "encrypted to another key")
	if l := v2.List(); len(l) != 1 || l[0].ID != w.ID() {
		t.Fatalf("List = %+v", l)
	}
}

func TestBadInputGetsClearError_CorruptIndexIsRebuilt(t *testing.T) {
	root := t.TempDir()
	v, _ := openVault(t, root, newMemStore())
	w, _ := v.Create(NewRecording{Title: "keep me"})
	writeSegments(t, w, newFakeStream(1), 1, 1, true)
	w.Close()
	for _, junk := range [][]byte{[]byte("garbage"), {}, nil} {
		if junk == nil {
			os.Remove(filepath.Join(root, indexFile))
		} else {
			os.WriteFile(filepath.Join(root, indexFile), junk, 0o600)
		}
		v2, rep, err := Open(root, Options{Secrets: v2store(t, v)})
		if err != nil {
			t.Fatal(err)
		}
		if !rep.IndexRebuilt {
			t.Fatalf("index %q not reported rebuilt", junk)
		}
		if junk != nil {
			wantErrText(t, rep.IndexProblem, "index.age")
		}
		if l := v2.List(); len(l) != 1 || l[0].Title != "keep me" || l[0].Segments != 1 {
			t.Fatalf("rebuilt index = %+v", l)
		}
	}
}

func TestBadInputGetsClearError_CorruptMetadataKeepsFiles(t *testing.T) {
	root := t.TempDir()
	v, _ := openVault(t, root, newMemStore())
	bad, _ := v.Create(NewRecording{Title: "bad"})
	writeSegments(t, bad, newFakeStream(1), 1, 1, true)
	bad.Close()
	good, _ := v.Create(NewRecording{Title: "good"})
	good.Close()
	mp := filepath.Join(root, recordingsDir, bad.ID(), metaFile)
	b, _ := os.ReadFile(mp)
	b[len(b)-5] ^= 0xff
	os.WriteFile(mp, b, 0o600)
	os.Remove(filepath.Join(root, indexFile)) // force a look at every recording
	v2, rep, err := Open(root, Options{Secrets: v2store(t, v)})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Damaged) != 1 || rep.Damaged[0].ID != bad.ID() || !errors.Is(rep.Damaged[0].Err, ErrDamaged) {
		t.Fatalf("damaged = %+v", rep.Damaged)
	}
	wantErrText(t, rep.Damaged[0].Err, bad.ID(), metaFile, "truncated or altered")
	if _, err := os.Stat(filepath.Join(root, recordingsDir, bad.ID(), "seg-000001.age")); err != nil {
		t.Fatal("the damaged recording's segment was removed")
	}
	if l := v2.List(); len(l) != 1 || l[0].ID != good.ID() {
		t.Fatalf("List = %+v", l)
	}
}

func TestBadInputGetsClearError_CorruptSegment(t *testing.T) {
	root := t.TempDir()
	v, _ := openVault(t, root, newMemStore())
	w, _ := v.Create(NewRecording{Title: "t"})
	writeSegments(t, w, newFakeStream(1), 3, 2, true)
	w.Close()
	segs, _ := v.Segments(w.ID())
	orig, _ := os.ReadFile(segs[1].Path)
	damage := map[string]func([]byte) []byte{
		"flipped byte": func(b []byte) []byte { c := append([]byte{}, b...); c[len(c)/2] ^= 1; return c },
		"truncated":    func(b []byte) []byte { return b[:len(b)-100] },
		"swapped":      func([]byte) []byte { b, _ := os.ReadFile(segs[2].Path); return b },
		"empty":        func([]byte) []byte { return nil },
	}
	for name, f := range damage {
		t.Run(name, func(t *testing.T) {
			os.WriteFile(segs[1].Path, f(orig), 0o600)
			r, err := v.OpenStream(w.ID())
			if err != nil {
				t.Fatal(err)
			}
			_, err = io.ReadAll(r)
			r.Close()
			if !errors.Is(err, ErrDamaged) {
				t.Fatalf("read of damaged segment: %v", err)
			}
			wantErrText(t, err, "seg-000002.age")
		})
	}
	os.Remove(segs[1].Path)
	r, _ := v.OpenStream(w.ID())
	_, err := io.ReadAll(r)
	if !errors.Is(err, ErrDamaged) {
		t.Fatalf("missing segment: %v", err)
	}
	wantErrText(t, err, "missing")
}

func TestBadInputGetsClearError_CallerMistakes(t *testing.T) {
	root := t.TempDir()
	v, _ := openVault(t, root, newMemStore())
	w, _ := v.Create(NewRecording{Title: "t"})
	err := w.WritePage([]byte("this is not an Ogg page at all, it is text"))
	wantErrText(t, err, "not whole Ogg pages", "nothing was written")
	p := newFakeStream(1).headers()[0]
	wantErrText(t, w.WritePage(p[:len(p)-1]), "not whole Ogg pages")
	if parts, _ := filepath.Glob(filepath.Join(root, recordingsDir, w.ID(), "seg-*")); len(parts) != 0 {
		t.Fatalf("refused input created %v", parts)
	}
	// The writer still works after refusing bad input.
	writeSegments(t, w, newFakeStream(1), 1, 1, true)
	wantErrText(t, w.SetRecord([]byte("{not json")), "not valid JSON")
	w.Close()

	for _, id := range []string{"", "../../etc/passwd", "01M84SH47X08B4X373XP75ZQ4W", "zzzzzzzzzzzzzzzzzzzzzzzzzz", strings.Repeat("0", 27)} {
		_, err := v.Get(id)
		wantErrText(t, err, "not a recording id")
		wantErrText(t, v.Delete(id), "not a recording id")
		_, err = v.OpenStream(id)
		wantErrText(t, err, "not a recording id")
	}
	_, err = v.Get(newID(w.ID0Time()))
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
	wantErrText(t, err, "list recordings")
	for _, name := range []string{"../x", "a/b", "", "..", `c:\x`} {
		_, err := v.Export(w.ID(), t.TempDir(), map[string][]byte{name: nil})
		wantErrText(t, err, "cannot be an export file name")
	}
	wantErrText(t, v.SetEscrow("not-a-key"), "not an age X25519 recipient")

	os.WriteFile(filepath.Join(root, configFile), []byte(`{"format":1}`), 0o600)
	_, _, err = Open(root, Options{Secrets: newMemStore()})
	wantErrText(t, err, "vault.json", "malformed key_id", "restore it from a backup")

	os.Remove(filepath.Join(root, configFile))
	_, _, err = Open(root, Options{Secrets: newMemStore()})
	wantErrText(t, err, "has recordings but no vault.json")
}

// `assent key export` + the stock age CLI decrypt a segment.
func TestStockAgeCLIDecryptsSegment(t *testing.T) {
	agePath, err := exec.LookPath("age")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("the age CLI is required under CI (apt-get install age)")
		}
		t.Skip("age CLI not installed")
	}
	v, _ := openVault(t, t.TempDir(), newMemStore())
	w, _ := v.Create(NewRecording{Title: "t"})
	fs := newFakeStream(6)
	var want []byte
	for _, p := range fs.headers() {
		want = append(want, p...)
		w.WritePage(p)
	}
	for i := 0; i < 30; i++ { // > 64 KiB: more than one age chunk
		p := fs.dataPage()
		want = append(want, p...)
		w.WritePage(p)
	}
	w.Close()
	keyPath := filepath.Join(t.TempDir(), "key.txt")
	f, _ := os.OpenFile(keyPath, os.O_WRONLY|os.O_CREATE, 0o600)
	if err := v.KeyExport(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	segs, _ := v.Segments(w.ID())
	out, err := exec.Command(agePath, "-d", "-i", keyPath, segs[0].Path).Output()
	if err != nil {
		t.Fatalf("age -d: %v", err)
	}
	if string(out) != string(want) {
		t.Fatalf("age -d output differs (%d vs %d bytes)", len(out), len(want))
	}
	// The exported key file is what age-keygen -y reads.
	pub, err := exec.Command("age-keygen", "-y", keyPath).Output()
	if err == nil && strings.TrimSpace(string(pub)) != v.Recipient() {
		t.Fatalf("age-keygen -y says %s, vault says %s", pub, v.Recipient())
	}
}

// A keyring that lost the vault's key: restore it from the KeyExport backup.
func TestRestoreKeyFromExport(t *testing.T) {
	root := t.TempDir()
	v, _ := openVault(t, root, newMemStore())
	w, _ := v.Create(NewRecording{Title: "t"})
	want := writeSegments(t, w, newFakeStream(1), 1, 2, true)
	w.Close()
	var backup strings.Builder
	v.KeyExport(&backup)
	oldSigning := b64(v.SigningPublicKey())

	other, _ := openVault(t, t.TempDir(), newMemStore())
	var wrong strings.Builder
	other.KeyExport(&wrong)
	empty := newMemStore()
	if err := RestoreKey(root, empty, strings.NewReader(wrong.String())); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("restoring another vault's key: %v", err)
	}
	wantErrText(t, RestoreKey(root, empty, strings.NewReader("hello")), "not an age identity file")
	if err := RestoreKey(root, empty, strings.NewReader(backup.String())); err != nil {
		t.Fatal(err)
	}
	v2, _ := openVault(t, root, empty)
	if !bytesEq(readStream(t, v2, w.ID()), want) {
		t.Fatal("audio not readable with the restored key")
	}
	if b64(v2.SigningPublicKey()) == oldSigning {
		t.Fatal("a lost signing key cannot come back; a new one was expected")
	}
	if len(v2.cfg.PreviousSigningKeys) != 1 || v2.cfg.PreviousSigningKeys[0] != oldSigning {
		t.Fatalf("old signing key not kept for verification: %v", v2.cfg.PreviousSigningKeys)
	}
}

// A damaged tombstone file: the sync client gets a clear error, and deleting
// a synced recording refuses rather than losing the server deletion.
func TestBadInputGetsClearError_CorruptDeletions(t *testing.T) {
	root := t.TempDir()
	v, _ := openVault(t, root, newMemStore())
	w, _ := v.Create(NewRecording{Title: "t"})
	w.Close()
	v.MarkSynced(w.ID())
	os.WriteFile(filepath.Join(root, deletionsFile), []byte("{garbage"), 0o600)
	_, err := v.PendingDeletions()
	if !errors.Is(err, ErrDamaged) {
		t.Fatalf("PendingDeletions: %v", err)
	}
	wantErrText(t, err, "deletions.json", "by hand")
	err = v.Delete(w.ID())
	wantErrText(t, err, "nothing was deleted")
	if _, err := os.Stat(filepath.Join(root, recordingsDir, w.ID())); err != nil {
		t.Fatal("files removed although the server deletion could not be queued")
	}
}
