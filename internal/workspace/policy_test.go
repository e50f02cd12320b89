package workspace

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assent-app/assent/consent"
	"github.com/assent-app/assent/internal/config"
)

func signedPolicyFile(t testing.TB, org consent.OrgParams) []byte {
	t.Helper()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	sp, err := consent.SignPolicy(consent.Policy{Version: 3, IssuedAt: "2026-12-01T10:00:00Z", NoticeID: consent.DefaultNoticeID,
		NoticeVersion: "2", Org: org}, key)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(sp)
	return b
}

// TestNoPlaceholderReachesAParticipant_NoticeSource: a device that is not
// enrolled refuses without controller and contact and uses its settings
// once set; an enrolled device uses its organisation's policy.
func TestNoPlaceholderReachesAParticipant_NoticeSource(t *testing.T) {
	dir := t.TempDir()
	settings := filepath.Join(dir, "config.json")
	cfg := config.Default()
	if _, _, _, err := NoticesAt(cfg, settings); !errors.Is(err, ErrOrgNotSet) {
		t.Fatalf("fresh install: %v, want ErrOrgNotSet", err)
	}
	cfg.Org.Controller, cfg.Org.Contact = "Acme Sales BV", "privacy@acme.example"
	set, _, src, err := NoticesAt(cfg, settings)
	if err != nil || src.Enrolled || set.Org.Controller != "Acme Sales BV" {
		t.Fatalf("settings: %v %+v", err, src)
	}
	// Older settings stored the English defaults: the Dutch notice must
	// still state its own.
	cfg.Org = cfg.Org.WithDefaults()
	set, _, _, err = NoticesAt(cfg, settings)
	if err != nil || strings.Contains(set.Texts["nl"].Text, "data protection authority") {
		t.Fatalf("old settings leak English into the Dutch notice: %v", err)
	}

	cfg.ServerURL = "https://rec.acme.example"
	cfg.Org = consent.OrgParams{}
	if _, _, _, err := NoticesAt(cfg, settings); !errors.Is(err, ErrNoPolicy) {
		t.Fatalf("enrolled without a policy: %v, want ErrNoPolicy", err)
	}
	pol := signedPolicyFile(t, consent.OrgParams{Controller: "Acme Group NV", Contact: "dpo@acme.example", DPO: "Mia Peeters",
		RetentionMonths: 12, Languages: []string{"en", "nl"}})
	if err := os.WriteFile(config.PolicyPath(settings), pol, 0o600); err != nil {
		t.Fatal(err)
	}
	set, _, src, err = NoticesAt(cfg, settings)
	if err != nil || !src.Enrolled || src.PolicyVersion != 3 || set.Policy == nil || set.Org.Controller != "Acme Group NV" ||
		strings.Join(set.Langs(), ",") != "en,nl" || !strings.Contains(set.Texts["nl"].Text, "Mia Peeters") {
		t.Fatalf("enrolled: %v %+v %+v", err, src, set)
	}
	if err := os.WriteFile(config.PolicyPath(settings), []byte(`{"policy":{"version":1,"org":{"Colour":"red"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := NoticesAt(cfg, settings); err == nil || !strings.Contains(err.Error(), "sync again") {
		t.Fatalf("a damaged policy: %v", err)
	}
}

func FuzzParsePolicyFile(f *testing.F) {
	f.Add(signedPolicyFile(f, consent.OrgParams{Controller: "Acme", Contact: "a@b.example"}))
	f.Add([]byte(`{"policy":{"version":1}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, hash, err := ParsePolicyFile(b)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error without words")
			}
			return
		}
		if len(hash) != 64 || p.Validate() != nil {
			t.Fatalf("accepted an invalid policy: %+v", p)
		}
	})
}
