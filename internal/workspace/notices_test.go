package workspace

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/zalando/go-keyring"

	"github.com/assent-app/assent/assets"
	"github.com/assent-app/assent/consent"
	"github.com/assent-app/assent/vault"
)

type memSecrets struct {
	mu sync.Mutex
	m  map[string]string
}

func (s *memSecrets) Get(svc, user string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[svc+"\x00"+user]
	if !ok {
		return "", keyring.ErrNotFound
	}
	return v, nil
}
func (s *memSecrets) Set(svc, user, secret string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[svc+"\x00"+user] = secret
	return nil
}
func (s *memSecrets) Delete(svc, user string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, svc+"\x00"+user)
	return nil
}

// Issue 10 item 5: the export writes the notice texts stored with the
// recording — byte for byte, each hashing to the sha256 its record cites —
// even when the templates they were rendered from are gone.
func TestExportWritesStoredNoticeTexts(t *testing.T) {
	t.Setenv("ASSENT_CONFIG", filepath.Join(t.TempDir(), "config.json")) // no notice folder configured
	// A notice version that exists only during the call.
	tpl := t.TempDir()
	for _, lang := range []string{"en", "de"} {
		b, err := fs.ReadFile(assets.Notices(), "call-recording/2/"+lang+".md")
		if err != nil {
			t.Fatal(err)
		}
		b = append(b, []byte("\nZorblax clause for "+lang+".\n")...)
		if err := os.MkdirAll(filepath.Join(tpl, "call-recording", "97"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tpl, "call-recording", "97", lang+".md"), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	set, err := consent.NewLibrary(os.DirFS(tpl)).RenderSet("call-recording", "97",
		consent.OrgParams{Controller: "Acme Sales BV", Contact: "privacy@acme.example"})
	if err != nil {
		t.Fatal(err)
	}
	v, _, err := vault.Open(t.TempDir(), vault.Options{Secrets: &memSecrets{m: map[string]string{}}})
	if err != nil {
		t.Fatal(err)
	}
	w, err := v.Create(vault.NewRecording{Title: "call"})
	if err != nil {
		t.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	sess, err := consent.NewSession(consent.Config{RecordingID: w.ID(), Notices: set, Signer: key})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := sess.Record()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.SetRecord(rec); err != nil {
		t.Fatal(err)
	}
	// Before the texts are stored the export can only try to rebuild them
	// (a recording made before texts were stored): here it cannot.
	if files := NoticeFiles(v, w.ID()); files["README-notices.txt"] == nil {
		t.Fatalf("no stored texts and no templates: %v", files)
	}
	var texts [][]byte
	for _, l := range set.Langs() {
		texts = append(texts, []byte(set.Texts[l].Text))
	}
	if err := w.StoreNotices(texts); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := Export(v, w.ID(), dir); err != nil {
		t.Fatal(err)
	}
	parsed, err := consent.Parse(rec)
	if err != nil {
		t.Fatal(err)
	}
	if len(parsed.Notice.Texts) != 2 {
		t.Fatalf("record cites %d texts", len(parsed.Notice.Texts))
	}
	for _, nt := range parsed.Notice.Texts {
		b, err := os.ReadFile(filepath.Join(dir, "notice-"+nt.SHA256+".md"))
		if err != nil {
			t.Fatalf("the export lacks the %s notice: %v", nt.Lang, err)
		}
		if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != nt.SHA256 {
			t.Fatalf("the exported %s notice does not hash to the record's sha256", nt.Lang)
		}
		if !strings.Contains(string(b), "Zorblax clause for "+nt.Lang) {
			t.Fatalf("the exported %s notice is not the stored text", nt.Lang)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "README-notices.txt")); err == nil {
		t.Fatal("README-notices.txt written although every text was stored")
	}
}
