package vault

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// Issue 10 item 5: the exact notice texts of a call are stored with the
// recording, encrypted, named by their SHA-256, and checked on read.
func TestNoticeTextsStoredEncryptedAndVerified(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	root := t.TempDir()
	v, _ := openVault(t, root, newMemStore())
	w, err := v.Create(NewRecording{Title: "t"})
	if err != nil {
		t.Fatal(err)
	}
	texts := [][]byte{
		[]byte("# Recording notice\n\nQuuxwidget Ltd records this call for training.\n"),
		[]byte("# Aufnahmehinweis\n\nQuuxwidget GmbH zeichnet dieses Gespräch auf.\n"),
	}
	if err := w.StoreNotices(texts); err != nil {
		t.Fatal(err)
	}
	if err := w.StoreNotices(texts[:1]); err != nil { // idempotent
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	needles := [][]byte{[]byte("Quuxwidget"), []byte("records this call"), []byte("Aufnahmehinweis")}
	if n := scanForPlaintext(t, "after storing the notice texts", needles, root, tmp); n < 4 {
		t.Fatalf("scan saw only %d files", n)
	}
	v2, _ := openVault(t, root, v2store(t, v))
	got, err := v2.Notices(w.ID())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(texts) {
		t.Fatalf("got %d texts, want %d", len(got), len(texts))
	}
	for _, tx := range texts {
		sum := sha256.Sum256(tx)
		h := hex.EncodeToString(sum[:])
		if string(got[h]) != string(tx) {
			t.Fatalf("text %s: got %q", h, got[h])
		}
		if _, err := os.Stat(filepath.Join(root, "recordings", w.ID(), "notices", h+".md.age")); err != nil {
			t.Fatal(err)
		}
	}

	// A text whose bytes do not hash to its name is refused as damaged.
	sum := sha256.Sum256(texts[0])
	ct, err := encrypt([]byte("something else"), v2.keys.recipient)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "recordings", w.ID(), "notices", hex.EncodeToString(sum[:])+".md.age"), ct, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := v2.Notices(w.ID()); !errors.Is(err, ErrDamaged) {
		t.Fatalf("a swapped text: err = %v, want ErrDamaged", err)
	}

	// A recording without stored texts (made before they were stored) has none.
	w2, err := v2.Create(NewRecording{Title: "old"})
	if err != nil {
		t.Fatal(err)
	}
	w2.Close()
	if got, err := v2.Notices(w2.ID()); err != nil || len(got) != 0 {
		t.Fatalf("old recording: %v %v", got, err)
	}
}
