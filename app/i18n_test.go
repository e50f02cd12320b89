package app

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"fyne.io/fyne/v2/lang"

	"github.com/assent-app/assent/assets"
)

func readTranslations(t *testing.T) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	tr := assets.Translations()
	entries, err := fs.ReadDir(tr, ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if filepath.Ext(e.Name()) != ".json" {
			continue
		}
		data, err := fs.ReadFile(tr, e.Name())
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		out[strings.TrimSuffix(e.Name(), ".json")] = m
	}
	return out
}

// Every English key exists, non-empty, in every other language, with the
// same printf verbs and template fields.
func TestTranslationsComplete(t *testing.T) {
	all := readTranslations(t)
	en, ok := all["en"]
	if !ok || len(all) < 2 {
		t.Fatalf("need en.json and at least one more language, have %d files", len(all))
	}
	verbs := regexp.MustCompile(`%[-+# 0-9.]*[a-zA-Z%]|\{\{[^}]*\}\}`)
	for code, m := range all {
		for k, v := range en {
			got, ok := m[k]
			if !ok || strings.TrimSpace(got) == "" {
				t.Errorf("%s.json lacks %q", code, k)
				continue
			}
			if a, b := verbs.FindAllString(v, -1), verbs.FindAllString(got, -1); strings.Join(a, ",") != strings.Join(b, ",") {
				t.Errorf("%s.json %q: placeholders %v, English has %v", code, k, b, a)
			}
		}
	}
}

// Every literal text the code passes to lang.L, phrase or errors.New has an
// English entry (so translators see it).
func TestTranslationsCoverSource(t *testing.T) {
	en := readTranslations(t)["en"]
	files, _ := filepath.Glob("*.go")
	re := regexp.MustCompile(`(?:lang\.L\(|phrase\(code, |errors\.New\()("(?:[^"\\]|\\.)*")`)
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllSubmatch(src, -1) {
			k, err := strconv.Unquote(string(m[1]))
			if err != nil {
				t.Fatal(err)
			}
			n++
			if _, ok := en[k]; !ok {
				t.Errorf("%s: %q is not in en.json", f, k)
			}
		}
	}
	if n < 100 {
		t.Fatalf("found only %d UI texts; the scan is broken", n)
	}
}

func TestDutchThroughLangL(t *testing.T) {
	if err := loadTranslations(); err != nil {
		t.Fatal(err)
	}
	setUILanguage("nl")
	defer setUILanguage("en")
	for k, want := range map[string]string{"Library": "Bibliotheek", "Ask for consent": "Toestemming vragen", "Saved.": "Bewaard.", "Error": "Fout"} {
		if got := lang.L(k); got != want {
			t.Errorf("lang.L(%q) in Dutch = %q, want %q", k, got, want)
		}
	}
	setUILanguage("en")
	if got := lang.L("Library"); got != "Library" {
		t.Errorf("back in English lang.L(Library) = %q", got)
	}
	if got := phrase("nl", "I agree"); got != "Ik ga akkoord" {
		t.Errorf("phrase(nl, I agree) = %q", got)
	}
	if got := phrase("xx", "I agree"); got != "I agree" {
		t.Errorf("unknown language must fall back to English, got %q", got)
	}
}
