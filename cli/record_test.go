package cli

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/zalando/go-keyring"

	"github.com/assent-app/assent/assets"
	"github.com/assent-app/assent/consent"
)

func TestBadInputGetsClearError_RecordFlags(t *testing.T) {
	for _, args := range [][]string{
		{"record", "--duration", "-5s", "--participant", "Ana"},
		{"record", "--duration", "0s", "--participant", "Ana"},
		{"record", "--verbal", "--participant", "Ana"},
		{"record"},
	} {
		var out, errOut bytes.Buffer
		if code := Main(args, strings.NewReader(""), &out, &errOut); code != ExitUsage || errOut.Len() == 0 {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut.String())
		}
	}
}

// TestNoPlaceholderReachesAParticipant_CLI: a fresh install records nothing
// and says how to set the organisation; 'assent org set' fixes it.
func TestNoPlaceholderReachesAParticipant_CLI(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("ASSENT_CONFIG", filepath.Join(dir, "config.json"))
	t.Setenv("ASSENT_HOME", filepath.Join(dir, "vault"))
	var out, errOut bytes.Buffer
	if code := Main([]string{"org"}, strings.NewReader(""), &out, &errOut); code != ExitFailed || !strings.Contains(errOut.String(), "assent org set") {
		t.Fatalf("org on a fresh install: exit %d, %q", code, errOut.String())
	}
	errOut.Reset()
	if code := Main([]string{"org", "set", "--controller", "the organisation of the person recording this call", "--contact", "x@y.example"}, strings.NewReader(""), &out, &errOut); code != ExitUsage {
		t.Fatalf("placeholder accepted: exit %d", code)
	}
	if code := Main([]string{"org", "set", "--controller", "Acme Sales BV", "--contact", "privacy@acme.example"}, strings.NewReader(""), &out, &errOut); code != ExitOK {
		t.Fatalf("org set: exit %d, %s", code, errOut.String())
	}
	out.Reset()
	if code := Main([]string{"org", "show"}, strings.NewReader(""), &out, &errOut); code != ExitOK || !strings.Contains(out.String(), "Acme Sales BV") {
		t.Fatalf("org show: exit %d, %s", code, out.String())
	}
	b, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	if strings.Contains(string(b), "person recording") {
		t.Fatalf("the settings carry a placeholder: %s", b)
	}
}

// TestCLIPromptsWholeLanguages: every prompt exists in every notice
// language, with the same verbs, and none repeats the English text.
func TestCLIPromptsWholeLanguages(t *testing.T) {
	set, err := consent.NewLibrary(assets.Notices()).RenderSet(consent.DefaultNoticeID, "2",
		consent.OrgParams{Controller: "Acme Sales BV", Contact: "privacy@acme.example"})
	if err != nil {
		t.Fatal(err)
	}
	verbs := regexp.MustCompile(`%[a-z]`)
	for _, lang := range set.Langs() {
		m, ok := prompts[lang]
		if !ok {
			t.Errorf("no CLI prompts in %s", lang)
			continue
		}
		for k, en := range prompts["en"] {
			v := m[k]
			if v == "" || (lang != "en" && v == en) {
				t.Errorf("%s: prompt %q is missing or English", lang, k)
			}
			if strings.Join(verbs.FindAllString(v, -1), "") != strings.Join(verbs.FindAllString(en, -1), "") {
				t.Errorf("%s: prompt %q has other verbs than English", lang, k)
			}
		}
		// The words a participant is told to type are understood.
		for _, k := range []string{"agree?", "age?"} {
			q := regexp.MustCompile(`["„«] ?([^"“»]+?) ?["“»]`).FindAllStringSubmatch(m[k], -1)
			if len(q) < 2 {
				t.Fatalf("%s %s: no quoted answers in %q", lang, k, m[k])
			}
			if a, ok := parseAnswer(q[0][1]); !ok || a != agree {
				t.Errorf("%s: the suggested answer %q is not understood as yes", lang, q[0][1])
			}
			if a, ok := parseAnswer(q[1][1]); !ok || a != decline {
				t.Errorf("%s: the suggested answer %q is not understood as no", lang, q[1][1])
			}
		}
	}
}

func TestPlainTextNotice(t *testing.T) {
	set, err := consent.NewLibrary(assets.Notices()).RenderSet(consent.DefaultNoticeID, "2",
		consent.OrgParams{Controller: "Acme Sales BV", Contact: "privacy@acme.example"})
	if err != nil {
		t.Fatal(err)
	}
	for lang, n := range set.Texts {
		p := plainText(n.Text)
		if strings.Contains(p, "**") || strings.Contains(p, "# ") || !strings.Contains(p, "Acme Sales BV") {
			t.Errorf("%s: markup left or text lost:\n%s", lang, p)
		}
	}
}

func TestSigningKeyMatchesRecords(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("ASSENT_CONFIG", filepath.Join(dir, "config.json"))
	t.Setenv("ASSENT_HOME", filepath.Join(dir, "vault"))
	if os.Getenv("ASSENT_TEST_KEYRING") != "1" {
		keyring.MockInit()
	}
	var out, errOut bytes.Buffer
	if code := Main([]string{"signing-key"}, strings.NewReader(""), &out, &errOut); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	m := regexp.MustCompile(`(?m)^keyId (ed25519:[0-9a-f]{32})\nhex ([0-9a-f]{64})\n`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("output %q", out.String())
	}
	pub, _ := hex.DecodeString(m[2])
	if consent.KeyID(pub) != m[1] {
		t.Fatalf("keyId %s does not belong to the printed key", m[1])
	}
}

func FuzzPlainText(f *testing.F) {
	f.Add("# Title\n\n**Bold.** text _em_ [link](https://x.example)\n- item")
	f.Add("**unclosed *")
	f.Fuzz(func(t *testing.T, md string) {
		p := plainText(md)
		if utf8.ValidString(md) && !utf8.ValidString(p) {
			t.Fatalf("valid text became invalid UTF-8: %q → %q", md, p)
		}
		// Only markup goes; a heading adds at most its underline and a line break.
		if len(p) > 2*len(md)+8 {
			t.Fatalf("output %d bytes for %d bytes of input", len(p), len(md))
		}
		if strings.Contains(md, "**Bold.**") && strings.Contains(p, "**Bold.**") {
			t.Fatal("bold markup left in the text")
		}
	})
}
