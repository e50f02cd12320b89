package consent

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/assent-app/assent/assets"
)

// realisticOrgs are organisations as a policy or the settings give them:
// free-text facts left to Assent's defaults (stated in each language) or
// given, with the organisation's own text in every language.
func realisticOrgs() map[string]OrgParams {
	return map[string]OrgParams{
		"defaults": {Controller: "Acme Sales BV", Contact: "privacy@acme.example"},
		"full": {Controller: "Acme Sales BV", Contact: "privacy@acme.example", RetentionMonths: 24, MinAge: 18,
			DPO: "Jan de Vries, dpo@acme.example", Purposes: []string{"note-taking", "coaching", "quality-assurance"},
			Extra: map[string]string{
				"en": "Questions about this call? Call our privacy desk on weekdays.",
				"nl": "Vragen over dit gesprek? Bel op werkdagen onze privacybalie.",
				"de": "Fragen zu diesem Gespräch? Rufen Sie werktags unseren Datenschutzservice an.",
				"fr": "Des questions sur cet appel ? Appelez notre service de protection des données en semaine.",
			}},
		// Settings files written by older versions stored the English
		// defaults; Explicit removes them so each language states its own.
		"old settings": OrgParams{Controller: "Acme Sales BV", Contact: "privacy@acme.example"}.WithDefaults().Explicit(),
	}
}

var mdMarkup = regexp.MustCompile(`[*#_]+`)

// sentences splits a rendered notice into its sentences (markup removed,
// whitespace normalised), skipping fragments too short to be language.
func sentences(text string) []string {
	t := strings.Join(strings.Fields(mdMarkup.ReplaceAllString(text, " ")), " ")
	var out []string
	for _, s := range regexp.MustCompile(`[.;:!?—]\s+`).Split(t, -1) {
		s = strings.TrimSpace(s)
		if len([]rune(s)) >= 16 && strings.Count(s, " ") >= 2 {
			out = append(out, s)
		}
	}
	return out
}

// languageIn reports whether sentence s has words of its own once the
// organisation's names and addresses are taken out.
func languageIn(s string, org OrgParams) bool {
	for _, v := range []string{org.Controller, org.Contact, org.DPO} {
		if v != "" {
			s = strings.ReplaceAll(s, v, "")
		}
	}
	letters := 0
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			letters++
		}
	}
	return letters >= 12
}

// TestWholeLanguagesInEveryNotice renders every language of the newest
// notice with realistic organisations and fails if any sentence of the
// English text appears in another language.
func TestWholeLanguagesInEveryNotice(t *testing.T) {
	lib := NewLibrary(assets.Notices())
	ver, err := lib.Latest(DefaultNoticeID)
	if err != nil {
		t.Fatal(err)
	}
	for name, org := range realisticOrgs() {
		set, err := lib.RenderSet(DefaultNoticeID, ver, org)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, want := range []string{"en", "nl", "de", "fr"} {
			if set.Texts[want] == nil {
				t.Fatalf("%s: no %s notice", name, want)
			}
		}
		en := sentences(set.Texts["en"].Text)
		if len(en) < 20 {
			t.Fatalf("%s: only %d English sentences found; the splitter is broken", name, len(en))
		}
		for lang, n := range set.Texts {
			if lang == "en" {
				continue
			}
			for _, s := range en {
				if !languageIn(s, org) {
					continue // only names and addresses the organisation gave
				}
				if strings.Contains(n.Text, s) || strings.Contains(strings.Join(strings.Fields(mdMarkup.ReplaceAllString(n.Text, " ")), " "), s) {
					t.Errorf("%s: the %s notice contains the English sentence %q", name, lang, s)
				}
			}
			for _, d := range []string{"no one else", "encrypted on the host's computer", "none: the recording", "the data protection authority of"} {
				if strings.Contains(n.Text, d) {
					t.Errorf("%s: the %s notice states an English default: %q", name, lang, d)
				}
			}
			if org.DPO != "" && !strings.Contains(n.Text, org.DPO) {
				t.Errorf("%s: the %s notice does not name the DPO", name, lang)
			}
			if x := org.Extra[lang]; x != "" && !strings.Contains(n.Text, x) {
				t.Errorf("%s: the %s notice lacks the organisation's own text", name, lang)
			}
		}
	}
}

// TestNoPlaceholderReachesAParticipant: a notice cannot be rendered, nor a
// session opened, for an organisation whose controller or contact is unset
// or one of the old placeholders.
func TestNoPlaceholderReachesAParticipant(t *testing.T) {
	lib := NewLibrary(assets.Notices())
	for _, org := range []OrgParams{
		{},
		{Controller: "Acme Sales BV"},
		{Contact: "privacy@acme.example"},
		{Controller: "the organisation of the person recording this call", Contact: "privacy@acme.example"},
		{Controller: "Acme Sales BV", Contact: "the person recording this call"},
		{Controller: "  ", Contact: "privacy@acme.example"},
	} {
		if _, err := lib.RenderSet(DefaultNoticeID, "2", org); !errors.Is(err, ErrBadOrg) {
			t.Errorf("%+v: rendered (err %v), want ErrBadOrg", org, err)
		}
		if _, err := lib.Render(DefaultNoticeID, "1", "nl", org); !errors.Is(err, ErrBadOrg) {
			t.Errorf("%+v: v1 rendered (err %v), want ErrBadOrg", org, err)
		}
		if !org.Unset() {
			t.Errorf("%+v: Unset is false", org)
		}
	}
}

// TestOrgFactsInTheRecordHeader: every fact the notice states is in the
// record header, bound by the header hash.
func TestOrgFactsInTheRecordHeader(t *testing.T) {
	org := realisticOrgs()["full"]
	set, err := NewLibrary(assets.Notices()).RenderSet(DefaultNoticeID, "2", org)
	if err != nil {
		t.Fatal(err)
	}
	set.Policy = &PolicyRef{Version: 7, SHA256: strings.Repeat("ab", 32)}
	key := testKey(t, 1)
	s, err := NewSession(Config{RecordingID: "r1", Notices: set, Signer: key})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Record()
	if err != nil {
		t.Fatal(err)
	}
	r, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	f := r.Facts
	if f == nil || f.DPO != org.DPO || f.Policy == nil || f.Policy.Version != 7 || len(f.Extra) != 4 || len(f.Languages) != 4 ||
		len(f.Defaulted) != 4 || r.RetentionMonths != 24 || r.MinAge != 18 || strings.Join(r.Purposes, ",") != "note-taking,coaching,quality-assurance" {
		t.Fatalf("header facts %+v, purposes %v", f, r.Purposes)
	}
	h := r.HeaderHash()
	r.Facts.Processor = "someone else"
	if r.HeaderHash() == h {
		t.Fatal("the header hash does not bind the facts")
	}
}

func TestBadInputGetsClearError_OrgFacts(t *testing.T) {
	lib := NewLibrary(assets.Notices())
	base := OrgParams{Controller: "Acme Sales BV", Contact: "privacy@acme.example"}
	for name, mut := range map[string]func(*OrgParams){
		"unknown purpose":  func(o *OrgParams) { o.Purposes = []string{"marketing"} },
		"unknown language": func(o *OrgParams) { o.Languages = []string{"en", "xx"} },
		"bad language":     func(o *OrgParams) { o.Languages = []string{"EN"} },
		"extra missing":    func(o *OrgParams) { o.Extra = map[string]string{"en": "Hello."} },
	} {
		o := base
		mut(&o)
		_, err := lib.RenderSet(DefaultNoticeID, "2", o)
		if err == nil || (!errors.Is(err, ErrBadOrg) && !errors.Is(err, ErrNoNotice)) {
			t.Errorf("%s: %v", name, err)
		}
	}
	o := base
	o.Languages = []string{"nl", "de"}
	set, err := lib.RenderSet(DefaultNoticeID, "2", o)
	if err != nil || strings.Join(set.Langs(), ",") != "de,nl" {
		t.Fatalf("languages offered: %v %v", set, err)
	}
}

// TestEveryStoredSecondProvable_NoticeTextsRebuiltFromTheRecord: the
// record alone (with the notice templates) reproduces every notice sha256.
func TestEveryStoredSecondProvable_NoticeTextsRebuiltFromTheRecord(t *testing.T) {
	lib := NewLibrary(assets.Notices())
	for name, org := range realisticOrgs() {
		set, err := lib.RenderSet(DefaultNoticeID, "2", org)
		if err != nil {
			t.Fatal(err)
		}
		s, err := NewSession(Config{RecordingID: "r1", Notices: set, Signer: testKey(t, 1)})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := s.Record()
		r, err := Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		ns, err := RecordNotices(lib, r)
		if err != nil || len(ns) != 4 {
			t.Fatalf("%s: %v (%d texts)", name, err, len(ns))
		}
		r.Facts.Processor = "someone else"
		r.Facts.Defaulted = nil
		if _, err := RecordNotices(lib, r); !errors.Is(err, ErrNoticeMismatch) {
			t.Fatalf("%s: a changed fact still reproduces the hashes: %v", name, err)
		}
	}
}
