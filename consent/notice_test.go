package consent

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/assent-app/assent/assets"
)

// Every shipped notice text renders, is hashed exactly as shown, and
// states what the issue requires: it uses every organisation parameter
// (controller, contact, retention, minimum age, processor, storage,
// transfer, supervisory authority).
func TestShippedNoticesSayEverything(t *testing.T) {
	lib := NewLibrary(assets.Notices())
	vs, err := lib.Versions(DefaultNoticeID)
	if err != nil {
		t.Fatal(err)
	}
	org := OrgParams{Controller: "Org-Controller-X", Contact: "contact-x@example.org", RetentionMonths: 27, MinAge: 17,
		Processor: "Processor-X", StorageLocation: "Storage-X", Transfer: "Transfer-X", SupervisoryAuthority: "Authority-X"}
	for _, v := range vs {
		set, err := lib.RenderSet(DefaultNoticeID, v, org)
		if err != nil {
			t.Fatal(err)
		}
		for _, must := range []string{"en", "nl"} {
			if set.Texts[must] == nil {
				t.Fatalf("version %s has no %s text", v, must)
			}
		}
		for lang, n := range set.Texts {
			sum := sha256.Sum256([]byte(n.Text))
			if n.SHA256 != hex.EncodeToString(sum[:]) || n.Lang != lang || n.Version != v {
				t.Fatalf("%s/%s: ref %+v does not name the text", v, lang, n.NoticeRef)
			}
			for _, want := range []string{"Org-Controller-X", "contact-x@example.org", "27", "17", "Processor-X", "Storage-X", "Transfer-X", "Authority-X"} {
				if !strings.Contains(n.Text, want) {
					t.Errorf("%s/%s does not mention %s", v, lang, want)
				}
			}
			if strings.Contains(n.Text, "{{") {
				t.Errorf("%s/%s has an unrendered placeholder", v, lang)
			}
		}
	}
}

func TestDefaultOrgParams(t *testing.T) {
	n, err := NewLibrary(assets.Notices()).Render(DefaultNoticeID, "1", "en", testOrg)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"36 months", "at least 16 years", "Acme Sales B.V."} {
		if !strings.Contains(n.Text, want) {
			t.Errorf("default English notice lacks %q", want)
		}
	}
	for _, bad := range []OrgParams{{Contact: "x"}, {Controller: "x"}, {Controller: "x", Contact: "y", MinAge: 12}, {Controller: "x", Contact: "y", MinAge: 19}, {Controller: "x", Contact: "y", RetentionMonths: -1}} {
		if _, err := NewLibrary(assets.Notices()).Render(DefaultNoticeID, "1", "en", bad); !errors.Is(err, ErrBadOrg) {
			t.Errorf("%+v: %v", bad, err)
		}
	}
	for age := MinMinAge; age <= MaxMinAge; age++ {
		n, err := NewLibrary(assets.Notices()).Render(DefaultNoticeID, "1", "nl", OrgParams{Controller: "x", Contact: "y", MinAge: age})
		if err != nil || !strings.Contains(n.Text, "minstens "+strconv.Itoa(age)+" jaar") {
			t.Fatalf("min age %d: %v", age, err)
		}
	}
}

// An organisation supplies its own notice directory; old versions stay
// loadable and each version keeps its own hash.
func TestOrgNoticesAndOldVersions(t *testing.T) {
	org := fstest.MapFS{
		"call-recording/1/en.md":  {Data: []byte("Org v1 text for {{.Controller}}, keep {{.RetentionMonths}} months.\n")},
		"call-recording/2/en.md":  {Data: []byte("Org v2 text for {{.Controller}}.\n")},
		"call-recording/10/en.md": {Data: []byte("Org v10.\n")},
		"bad/1/en.md":             {Data: []byte("{{.Salary}}")},
		"broken/1/en.md":          {Data: []byte("{{.Controller")},
	}
	lib := NewLibrary(org, assets.Notices())
	vs, err := lib.Versions(DefaultNoticeID)
	if err != nil || strings.Join(vs, ",") != "1,2,10" {
		t.Fatalf("versions %v %v", vs, err)
	}
	if l, _ := lib.Latest(DefaultNoticeID); l != "10" {
		t.Fatalf("latest %s", l)
	}
	n1, err := lib.Render(DefaultNoticeID, "1", "en", testOrg)
	if err != nil || n1.Text != "Org v1 text for Acme Sales B.V., keep 36 months.\n" {
		t.Fatalf("org text not used: %v %q", err, n1.Text)
	}
	// The org tree overrides version 1 entirely: no Dutch there.
	if _, err := lib.Render(DefaultNoticeID, "1", "nl", testOrg); !errors.Is(err, ErrNoNotice) {
		t.Fatalf("nl: %v", err)
	}
	n2, _ := lib.Render(DefaultNoticeID, "2", "en", testOrg)
	if n1.SHA256 == n2.SHA256 {
		t.Fatal("different versions with equal hashes")
	}
	if _, err := lib.Check(n1.NoticeRef, testOrg); err != nil {
		t.Fatal(err)
	}
	other := testOrg
	other.Controller = "Other Org"
	if _, err := lib.Check(n1.NoticeRef, other); !errors.Is(err, ErrNoticeMismatch) {
		t.Fatalf("check with other org: %v", err)
	}
	for _, id := range []string{"bad", "broken"} {
		_, err := lib.Render(id, "1", "en", testOrg)
		if !errors.Is(err, ErrNoNotice) || !strings.Contains(err.Error(), "template") {
			t.Fatalf("%s: %v", id, err)
		}
	}
	for _, c := range [][3]string{{"../etc", "1", "en"}, {"call-recording", "../1", "en"}, {"call-recording", "1", "../../x"}, {"call-recording", "99", "en"}} {
		if _, err := lib.Render(c[0], c[1], c[2], testOrg); !errors.Is(err, ErrNoNotice) {
			t.Errorf("%v: %v", c, err)
		}
	}
}

func TestReceiptInParticipantLanguage(t *testing.T) {
	key := testKey(t, 1)
	_, b := happy(t, key, "r1")
	p, err := Verify(b, key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	nl, err := Receipt(p.Record, "p1")
	if err != nil {
		t.Fatal(err)
	}
	en, _ := Receipt(p.Record, "host")
	for _, want := range []string{"Toestemmingsbewijs — Piet Jansen", "toestemming gegeven (op het scherm van de host)", "36 maanden", "0:00:00 – 0:00:01", "stop de opname", p.Spans[0].Participants[1].Notice.SHA256, "privacy@acme.example"} {
		if !strings.Contains(nl, want) {
			t.Errorf("Dutch receipt lacks %q:\n%s", want, nl)
		}
	}
	// Event times in the participant's language: a Dutch month name, no English one.
	var t0 time.Time
	for _, e := range p.Record.Events {
		if e.Participant == "p1" {
			t0, _ = parseTime(e.Time)
			break
		}
	}
	if want := FormatDate(t0, "nl", true) + " UTC"; !strings.Contains(nl, want) {
		t.Errorf("Dutch receipt lacks the Dutch date %q:\n%s", want, nl)
	}
	if m := monthNames["en"][t0.Month()-1]; m != monthNames["nl"][t0.Month()-1] && strings.Contains(nl, m) {
		t.Errorf("Dutch receipt has the English month %q:\n%s", m, nl)
	}
	if !strings.Contains(en, "Consent receipt — Hanna Host") || strings.Contains(en, "Piet") {
		t.Errorf("English receipt wrong or mentions another participant:\n%s", en)
	}
	if _, err := Receipt(p.Record, "nobody"); err == nil {
		t.Fatal("receipt for unknown participant")
	}
}

func TestReceiptTranslationsComplete(t *testing.T) {
	en := receiptTexts["en"]
	for _, lang := range ReceiptLangs() {
		tx, ok := receiptTexts[lang]
		if !ok {
			t.Fatalf("no receipt texts for %s", lang)
		}
		v := reflect.ValueOf(tx)
		for i := 0; i < v.NumField(); i++ {
			if f := v.Field(i); f.Kind() == reflect.String && f.String() == "" {
				t.Errorf("%s: receipt text %s is empty", lang, v.Type().Field(i).Name)
			}
		}
		if len(tx.events) != len(en.events) || len(tx.method) != len(en.method) {
			t.Errorf("%s: %d event and %d method texts, English has %d and %d", lang, len(tx.events), len(tx.method), len(en.events), len(en.method))
		}
	}
}

// Defaults the organisation did not override are said in the notice's
// language, not in English.
func TestNoticeDefaultsInNoticeLanguage(t *testing.T) {
	set, err := NewLibrary(assets.Notices()).RenderSet(DefaultNoticeID, "1", testOrg)
	if err != nil {
		t.Fatal(err)
	}
	for lang, want := range map[string]string{
		"en": "no one else: Acme Sales B.V. runs Assent itself",
		"nl": "niemand anders: Acme Sales B.V. gebruikt Assent zelf",
		"de": "niemand sonst: Acme Sales B.V. betreibt Assent selbst",
		"fr": "personne d'autre : Acme Sales B.V. exploite Assent lui-même",
	} {
		txt := set.Texts[lang].Text
		if !strings.Contains(txt, want) {
			t.Errorf("%s notice lacks %q", lang, want)
		}
		if lang != "en" && strings.Contains(txt, "no one else") {
			t.Errorf("%s notice has English defaults", lang)
		}
	}
	if set.Org.RetentionMonths != 36 || set.Org.MinAge != 16 {
		t.Fatalf("set org defaults %+v", set.Org)
	}
}
