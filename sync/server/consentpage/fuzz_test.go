package consentpage

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzParseLinkRequest(f *testing.F) {
	text := "# Notice\n\nWe record."
	sum := sha256.Sum256([]byte(text))
	good, _ := json.Marshal(LinkRequest{RecordingID: "r1", MinAge: 16, OpenSlots: 1, Slots: []Slot{{Ref: "a", Name: "A", Lang: "en"}},
		Notice: Notice{ID: "call-recording", Version: "1", Texts: []NoticeText{{Lang: "en", Text: text, SHA256: hex.EncodeToString(sum[:])}}}})
	f.Add(good)
	f.Add([]byte(`{"recordingId":"r","notice":{"id":"x","version":"1","texts":[]}}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, b []byte) {
		req, ttl, err := ParseLinkRequest(b)
		if err != nil {
			if !strings.HasPrefix(err.Error(), ErrBadRequest.Error()) {
				t.Fatalf("error %q does not wrap ErrBadRequest", err)
			}
			return
		}
		// Whatever is accepted holds the promises the handler relies on.
		if ttl <= 0 || ttl > MaxExpiry {
			t.Fatalf("ttl %v", ttl)
		}
		n := len(req.Slots) + req.OpenSlots
		if n < 1 || n > MaxSlots || len(req.Notice.Texts) < 1 || len(req.Notice.Texts) > MaxLangs {
			t.Fatalf("accepted %d slots, %d texts", n, len(req.Notice.Texts))
		}
		for _, tx := range req.Notice.Texts {
			s := sha256.Sum256([]byte(tx.Text))
			if hex.EncodeToString(s[:]) != tx.SHA256 {
				t.Fatal("accepted a text that does not match its hash")
			}
		}
		for _, s := range req.Slots {
			if s.Name == "" || !utf8.ValidString(s.Name) {
				t.Fatalf("accepted slot name %q", s.Name)
			}
		}
	})
}

func FuzzParseForm(f *testing.F) {
	f.Add("decision=given&age=yes&lang=en&notice=" + strings.Repeat("a", 64) + "&name=Ana")
	f.Add("decision=withdrawn&lang=nl")
	f.Add("decision=refused&lang=pt-BR&notice=00&name=%00")
	f.Add("%zz")
	f.Fuzz(func(t *testing.T, body string) {
		v, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		form, err := ParseForm(v.Get)
		if err != nil {
			return
		}
		switch form.Decision {
		case Given, Refused, Withdrawn:
		default:
			t.Fatalf("accepted decision %q", form.Decision)
		}
		if form.Name != "" {
			if _, err := CleanName(form.Name); err != nil || form.Name != strings.TrimSpace(form.Name) {
				t.Fatalf("accepted name %q", form.Name)
			}
		}
		if !langRe.MatchString(form.Lang) {
			t.Fatalf("accepted lang %q", form.Lang)
		}
	})
}

func FuzzParseAcceptLanguage(f *testing.F) {
	f.Add("nl-NL,nl;q=0.9,en;q=0.5")
	f.Add("*;q=0.1, fr")
	f.Add(";;;,,q=x")
	f.Fuzz(func(t *testing.T, h string) {
		got := ParseAcceptLanguage(h)
		if len(got) > 32 {
			t.Fatalf("%d ranges", len(got))
		}
		l := pickLang([]string{"de", "en", "nl"}, "", h, "nl")
		if l != "de" && l != "en" && l != "nl" {
			t.Fatalf("picked %q, which is not offered", l)
		}
	})
}

func FuzzRenderNotice(f *testing.F) {
	f.Add("# T\n\n**b** <i>x</i>\n- a\n  b\n")
	f.Add("**unclosed <script>")
	f.Fuzz(func(t *testing.T, md string) {
		_, html := renderNotice(md)
		s := string(html)
		// Only our own tags may appear: every '<' starts one of them.
		for i := 0; i < len(s); i++ {
			if s[i] != '<' {
				continue
			}
			ok := false
			for _, tag := range []string{"<p>", "</p>", "<strong>", "</strong>", "<ul>", "</ul>", "<li>", "</li>", "<h2>", "</h2>", "<h3>", "</h3>"} {
				if strings.HasPrefix(s[i:], tag) {
					ok = true
				}
			}
			if !ok {
				t.Fatalf("markup from the notice reached the page: %q", s[i:min(len(s), i+20)])
			}
		}
	})
}

func FuzzParseLastEventID(f *testing.F) {
	f.Add("12", "")
	f.Add("", "3")
	f.Add("-1", "x")
	f.Fuzz(func(t *testing.T, h, q string) {
		n, err := ParseLastEventID(h, q)
		if err == nil && n < 0 {
			t.Fatalf("accepted %d", n)
		}
	})
}
