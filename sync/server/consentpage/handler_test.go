package consentpage

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestCreateLinkGivesPersonalAndCallURLs(t *testing.T) {
	e := newEnv(t, nil)
	lr := e.create(e.request([]Slot{{Ref: "bob", Name: "Bob", Lang: "nl"}, {Ref: "cy", Name: "Cy", Lang: "en"}}, 2))
	if len(lr.Slots) != 2 || lr.CallURL == "" || lr.ID == "" {
		t.Fatalf("response %+v", lr)
	}
	seen := map[string]bool{}
	tokRe := regexp.MustCompile(`^/c/[A-Za-z0-9_-]{43}$`) // 256-bit base64url
	for _, u := range append([]string{lr.CallURL}, lr.Slots[0].URL, lr.Slots[1].URL) {
		p := path(t, u)
		if !tokRe.MatchString(p) || seen[p] || !strings.HasPrefix(u, e.srv.URL) {
			t.Fatalf("URL %q is not a fresh 256-bit token URL on this server", u)
		}
		seen[p] = true
	}
	if got := lr.ExpiresAt.Sub(e.clk.now()); got != DefaultExpiry {
		t.Fatalf("expiry in %v, want the default %v", got, DefaultExpiry)
	}
	// Tokens are kept only as hashes.
	m := e.h.links.(*memLinks)
	m.mu.Lock()
	for h := range m.index {
		for u := range seen {
			if strings.Contains(u, h) || len(h) != 64 {
				t.Errorf("token store key %q is not a SHA-256 of the token", h)
			}
		}
	}
	for _, b := range m.links {
		for u := range seen {
			if strings.Contains(string(b), strings.TrimPrefix(path(t, u), "/c/")) {
				t.Errorf("the stored link holds a plaintext token")
			}
		}
	}
	m.mu.Unlock()
}

func TestNoticeHashMismatchRefused(t *testing.T) {
	e := newEnv(t, nil)
	req := e.request([]Slot{{Ref: "bob", Name: "Bob", Lang: "en"}}, 0)
	req.Notice.Texts[0].Text += " (edited)"
	b, _ := json.Marshal(req)
	resp := e.do("POST", "/v1/consent-links", "dev-a-token", strings.NewReader(string(b)))
	got := wantStatus(t, resp, http.StatusBadRequest)
	if !strings.Contains(got, "does not match its sha256") || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("mismatch answer: %s", got)
	}
}

func TestBadInputGetsClearError_LinkRequest(t *testing.T) {
	e := newEnv(t, nil)
	good := e.request([]Slot{{Ref: "bob", Name: "Bob", Lang: "en"}}, 1)
	mod := func(f func(*LinkRequest)) string {
		r := good
		r.Slots = append([]Slot(nil), good.Slots...)
		r.Notice.Texts = append([]NoticeText(nil), good.Notice.Texts...)
		f(&r)
		b, _ := json.Marshal(r)
		return string(b)
	}
	cases := []struct {
		name, body, token, want string
		status                  int
	}{
		{"no token", mod(func(*LinkRequest) {}), "", "device token", 401},
		{"unknown token", mod(func(*LinkRequest) {}), "nope", "device token", 401},
		{"not json", "{recordingId", "dev-a-token", "not a valid link request", 400},
		{"two values", mod(func(*LinkRequest) {}) + "{}", "dev-a-token", "more than one JSON value", 400},
		{"unknown field", `{"recordingId":"r","bogus":1}`, "dev-a-token", "unknown field", 400},
		{"bad recording id", mod(func(r *LinkRequest) { r.RecordingID = "../x" }), "dev-a-token", "recordingId", 400},
		{"no texts", mod(func(r *LinkRequest) { r.Notice.Texts = nil }), "dev-a-token", "1–16 languages", 400},
		{"bad lang", mod(func(r *LinkRequest) { r.Notice.Texts[0].Lang = "english" }), "dev-a-token", "is not a code", 400},
		{"dup lang", mod(func(r *LinkRequest) { r.Notice.Texts[1] = r.Notice.Texts[0] }), "dev-a-token", "sent twice", 400},
		{"bad sha", mod(func(r *LinkRequest) { r.Notice.Texts[0].SHA256 = "XYZ" }), "dev-a-token", "64 lower-case hex", 400},
		{"min age", mod(func(r *LinkRequest) { r.MinAge = 9 }), "dev-a-token", "minAge 9", 400},
		{"no slots", mod(func(r *LinkRequest) { r.Slots, r.OpenSlots = nil, 0 }), "dev-a-token", "needs 1–50 slots", 400},
		{"too many slots", mod(func(r *LinkRequest) { r.OpenSlots = 60 }), "dev-a-token", "needs 1–50 slots", 400},
		{"slot lang", mod(func(r *LinkRequest) { r.Slots[0].Lang = "es" }), "dev-a-token", "has no notice text", 400},
		{"slot name", mod(func(r *LinkRequest) { r.Slots[0].Name = "a\x00b" }), "dev-a-token", "control", 400},
		{"slot ref", mod(func(r *LinkRequest) { r.Slots[0].Ref = "a b" }), "dev-a-token", "ref", 400},
		{"dup ref", mod(func(r *LinkRequest) { r.Slots = append(r.Slots, r.Slots[0]) }), "dev-a-token", "sent twice", 400},
		{"expiry too long", mod(func(r *LinkRequest) { r.ExpiresInSeconds = 13 * 3600 }), "dev-a-token", "12 h", 400},
		{"expiry too short", mod(func(r *LinkRequest) { r.ExpiresInSeconds = 5 }), "dev-a-token", "less than a minute", 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := e.do("POST", "/v1/consent-links", c.token, strings.NewReader(c.body))
			got := wantStatus(t, resp, c.status)
			var p problemDoc
			if err := json.Unmarshal([]byte(got), &p); err != nil || p.Status != c.status || !strings.Contains(p.Detail, c.want) {
				t.Fatalf("problem %s does not say %q", got, c.want)
			}
		})
	}
	t.Run("wrong content type", func(t *testing.T) {
		resp := e.do("POST", "/v1/consent-links", "dev-a-token", strings.NewReader(mod(func(*LinkRequest) {})), "Content-Type", "text/plain")
		wantStatus(t, resp, http.StatusUnsupportedMediaType)
	})
	t.Run("too large", func(t *testing.T) {
		resp := e.do("POST", "/v1/consent-links", "dev-a-token", strings.NewReader(strings.Repeat(" ", MaxRequest+10)))
		wantStatus(t, resp, http.StatusRequestEntityTooLarge)
	})
}

func TestBadInputGetsClearError_Form(t *testing.T) {
	e := newEnv(t, nil)
	lr := e.create(e.request([]Slot{{Ref: "bob", Name: "Bob", Lang: "en"}}, 1))
	p := path(t, lr.Slots[0].URL)
	cases := []struct {
		name   string
		fields url.Values
		status int
		want   string
	}{
		{"no decision", url.Values{"age": {"yes"}}, 400, "decision must be"},
		{"odd decision", url.Values{"decision": {"maybe"}}, 400, "decision must be"},
		{"odd age", url.Values{"decision": {"given"}, "age": {"17"}}, 400, "age must be"},
		{"no age", url.Values{"decision": {"given"}}, 422, "confirm your age"},
		{"stale notice", url.Values{"decision": {"given"}, "age": {"yes"}, "notice": {strings.Repeat("0", 64)}}, 409, "notice changed"},
		{"unknown lang", url.Values{"decision": {"given"}, "age": {"yes"}, "lang": {"es"}, "notice": {strings.Repeat("0", 64)}}, 409, "notice changed"},
		{"withdraw first", url.Values{"decision": {"withdrawn"}}, 409, "already answered"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := wantStatus(t, e.post(p, c.fields), c.status)
			if !strings.Contains(got, c.want) || !strings.Contains(got, `role="alert"`) {
				t.Fatalf("page does not say %q in an alert:\n%s", c.want, got)
			}
		})
	}
	if a := e.answers(lr.ID); len(a) != 0 {
		t.Fatalf("bad forms recorded answers: %+v", a)
	}
	t.Run("open slot without name", func(t *testing.T) {
		got := wantStatus(t, e.post(path(t, lr.CallURL), url.Values{"decision": {"given"}, "age": {"yes"}}), 422)
		if !strings.Contains(got, "give your name") {
			t.Fatal(got)
		}
	})
	t.Run("cross-site post", func(t *testing.T) {
		wantStatus(t, e.post(p, url.Values{"decision": {"given"}, "age": {"yes"}}, "Origin", "https://evil.example"), 403)
		wantStatus(t, e.post(p, url.Values{"decision": {"given"}, "age": {"yes"}}, "Sec-Fetch-Site", "cross-site"), 403)
	})
	t.Run("unknown token", func(t *testing.T) {
		got := wantStatus(t, e.do("GET", "/c/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "", nil), 404)
		if !strings.Contains(got, "not valid") {
			t.Fatal(got)
		}
	})
}

func TestTokenSingleUse(t *testing.T) {
	e := newEnv(t, nil)
	lr := e.create(e.request([]Slot{{Ref: "bob", Name: "Bob", Lang: "en"}}, 0))
	p := path(t, lr.Slots[0].URL)
	resp := e.post(p, url.Values{"decision": {"given"}, "age": {"yes"}})
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), p) {
		t.Fatalf("agree: %d → %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	page := wantStatus(t, e.do("GET", p, "", nil), 200)
	if !strings.Contains(page, `value="withdrawn"`) || strings.Contains(page, `value="given"`) {
		t.Fatal("after agreeing the page must offer Withdraw and nothing else")
	}
	// A second answer with the same token is refused, whatever it says.
	for _, d := range []string{Given, Refused} {
		wantStatus(t, e.post(p, url.Values{"decision": {d}, "age": {"yes"}}), http.StatusConflict)
	}
	resp = e.post(p, url.Values{"decision": {"withdrawn"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("withdraw: %d", resp.StatusCode)
	}
	for _, d := range []string{Given, Withdrawn} {
		wantStatus(t, e.post(p, url.Values{"decision": {d}, "age": {"yes"}}), http.StatusConflict)
	}
	got := e.answers(lr.ID)
	if len(got) != 2 || got[0].Decision != Given || got[1].Decision != Withdrawn || !got[0].AgeConfirmed {
		t.Fatalf("answers %+v", got)
	}
	if got[0].Evidence != hashToken(strings.TrimPrefix(p, "/c/")) || got[0].Ref != "bob" || got[0].Slot != "s1" {
		t.Fatalf("answer evidence/slot: %+v", got[0])
	}
	if got[0].Notice.SHA256 != e.set.Texts["en"].SHA256 || got[0].Notice.Lang != "en" || got[0].Notice.Version != "1" {
		t.Fatalf("answer notice %+v", got[0].Notice)
	}
}

func TestNoOtherSlotChangeable(t *testing.T) {
	e := newEnv(t, nil)
	lr := e.create(e.request([]Slot{{Ref: "bob", Name: "Bob", Lang: "en"}, {Ref: "cy", Name: "Cy", Lang: "en"}}, 0))
	bob := path(t, lr.Slots[0].URL)
	// Extra fields naming another slot or participant are ignored.
	resp := e.post(bob, url.Values{"decision": {"given"}, "age": {"yes"}, "slot": {"s2"}, "ref": {"cy"}, "name": {"Cy"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("agree: %d", resp.StatusCode)
	}
	got := e.answers(lr.ID)
	if len(got) != 1 || got[0].Slot != "s1" || got[0].Ref != "bob" || got[0].Name != "" {
		t.Fatalf("answers %+v", got)
	}
	cy := wantStatus(t, e.do("GET", path(t, lr.Slots[1].URL), "", nil), 200)
	if !strings.Contains(cy, `value="given"`) {
		t.Fatal("Cy's page changed because of Bob's answer")
	}
	// The other device sees nothing of this link and cannot close it.
	wantStatus(t, e.do("GET", "/v1/consent-links/"+lr.ID+"/events", "dev-b-token", nil), 404)
	wantStatus(t, e.do("DELETE", "/v1/consent-links/"+lr.ID, "dev-b-token", nil), 404)
	wantStatus(t, e.do("GET", "/v1/consent-links/"+lr.ID+"/events", "", nil), 401)
}

func TestOpenSlotsAreClaimedOnceEach(t *testing.T) {
	e := newEnv(t, nil)
	lr := e.create(e.request(nil, 2))
	call := path(t, lr.CallURL)
	var personal []string
	for _, name := range []string{"Dee", "  Eve  "} {
		resp := e.post(call, url.Values{"decision": {"given"}, "age": {"yes"}, "name": {name}, "lang": {"nl"}})
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/c/") || strings.HasPrefix(loc, call) {
			t.Fatalf("claim: %d → %q", resp.StatusCode, loc)
		}
		personal = append(personal, strings.SplitN(loc, "?", 2)[0])
	}
	got := wantStatus(t, e.post(call, url.Values{"decision": {"given"}, "age": {"yes"}, "name": {"Fay"}}), http.StatusConflict)
	if !strings.Contains(got, "been taken") {
		t.Fatal(got)
	}
	wantStatus(t, e.do("GET", call, "", nil), http.StatusConflict)
	// Each visitor's own URL withdraws only their own answer.
	if resp := e.post(personal[1], url.Values{"decision": {"withdrawn"}, "lang": {"nl"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("withdraw: %d", resp.StatusCode)
	}
	a := e.answers(lr.ID)
	if len(a) != 3 || a[0].Name != "Dee" || a[1].Name != "Eve" || a[2].Slot != a[1].Slot || a[2].Decision != Withdrawn || a[0].Notice.Lang != "nl" {
		t.Fatalf("answers %+v", a)
	}
	if a[0].Evidence == a[1].Evidence || a[0].Evidence != hashToken(strings.TrimPrefix(personal[0], "/c/")) {
		t.Fatal("open slots must each carry their own token's hash")
	}
}

func TestExpiry(t *testing.T) {
	e := newEnv(t, nil)
	req := e.request([]Slot{{Ref: "bob", Name: "Bob", Lang: "en"}}, 1)
	req.ExpiresInSeconds = 600
	lr := e.create(req)
	p := path(t, lr.Slots[0].URL)
	sha := shaRe.FindStringSubmatch(wantStatus(t, e.do("GET", p, "", nil), 200))[1]
	e.clk.add(10 * time.Minute)
	got := wantStatus(t, e.do("GET", p, "", nil), http.StatusGone)
	if !strings.Contains(got, "expired") {
		t.Fatal(got)
	}
	wantStatus(t, e.post(p, url.Values{"decision": {"given"}, "age": {"yes"}, "notice": {sha}}), http.StatusGone)
	wantStatus(t, e.do("GET", path(t, lr.CallURL), "", nil), http.StatusGone)
	if len(e.answers(lr.ID)) != 0 {
		t.Fatal("an expired link took an answer")
	}
	evs := readStream(t, e, lr.ID, "")
	if len(evs) != 1 || evs[0].typ != "end" || !strings.Contains(evs[0].data, "expired") {
		t.Fatalf("stream of an expired link: %+v", evs)
	}
	// After the grace period the link and its tokens are forgotten.
	e.clk.add(11 * time.Minute)
	if n, err := e.h.links.Sweep(t.Context(), e.clk.now().Add(-e.h.cfg.Grace)); n != 1 || err != nil {
		t.Fatalf("swept %d links: %v", n, err)
	}
	wantStatus(t, e.do("GET", p, "", nil), http.StatusNotFound)
	if m := e.h.links.(*memLinks); len(m.index) != 0 || len(m.meta) != 0 {
		t.Fatal("tokens outlived their link")
	}
}

func TestClosedLinkEndsPagesAndStream(t *testing.T) {
	e := newEnv(t, nil)
	lr := e.create(e.request([]Slot{{Ref: "bob", Name: "Bob", Lang: "en"}}, 0))
	p := path(t, lr.Slots[0].URL)
	e.post(p, url.Values{"decision": {"given"}, "age": {"yes"}}).Body.Close()
	wantStatus(t, e.do("DELETE", "/v1/consent-links/"+lr.ID, "dev-a-token", nil), http.StatusNoContent)
	got := wantStatus(t, e.do("GET", p, "", nil), http.StatusGone)
	if !strings.Contains(got, "call has ended") {
		t.Fatal(got)
	}
	wantStatus(t, e.post(p, url.Values{"decision": {"withdrawn"}}), http.StatusGone)
	evs := readStream(t, e, lr.ID, "")
	if len(evs) != 2 || evs[0].typ != "answer" || evs[1].typ != "end" || !strings.Contains(evs[1].data, "closed") {
		t.Fatalf("stream %+v", evs)
	}
}

type sse struct{ id, typ, data string }

// readStream reads the event stream until its end event (or 5 s).
func readStream(t *testing.T, e *env, id, last string) []sse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/v1/consent-links/"+id+"/events", nil)
	req.Header.Set("Authorization", "Bearer dev-a-token")
	if last != "" {
		req.Header.Set("Last-Event-ID", last)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var out []sse
	var cur sse
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur.typ != "" {
				out = append(out, cur)
				if cur.typ == "end" {
					return out
				}
			}
			cur = sse{}
		case strings.HasPrefix(line, "id: "):
			cur.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			cur.typ = line[7:]
		case strings.HasPrefix(line, "data: "):
			cur.data = line[6:]
		}
	}
	return out
}

func TestEventsStreamLiveAndResume(t *testing.T) {
	e := newEnv(t, nil)
	lr := e.create(e.request([]Slot{{Ref: "bob", Name: "Bob", Lang: "en"}, {Ref: "cy", Name: "Cy", Lang: "nl"}}, 0))
	got := make(chan []sse, 1)
	go func() { got <- readStream(t, e, lr.ID, "") }()
	time.Sleep(100 * time.Millisecond) // the stream is open before the answers
	e.post(path(t, lr.Slots[0].URL), url.Values{"decision": {"given"}, "age": {"yes"}}).Body.Close()
	e.post(path(t, lr.Slots[1].URL), url.Values{"decision": {"refused"}, "lang": {"nl"}}).Body.Close()
	e.post(path(t, lr.Slots[0].URL), url.Values{"decision": {"withdrawn"}}).Body.Close()
	e.do("DELETE", "/v1/consent-links/"+lr.ID, "dev-a-token", nil).Body.Close()
	live := <-got
	if len(live) != 4 || live[0].id != "1" || live[2].id != "3" || live[3].typ != "end" {
		t.Fatalf("live stream %+v", live)
	}
	var a Answer
	if err := json.Unmarshal([]byte(live[1].data), &a); err != nil || a.Decision != Refused || a.Ref != "cy" || a.Notice.Lang != "nl" {
		t.Fatalf("second answer %s", live[1].data)
	}
	resumed := readStream(t, e, lr.ID, "2")
	if len(resumed) != 2 || resumed[0].id != "3" {
		t.Fatalf("resumed after 2: %+v", resumed)
	}
	wantStatus(t, e.do("GET", "/v1/consent-links/"+lr.ID+"/events", "dev-a-token", nil, "Last-Event-ID", "x"), 400)
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.PerIP = Rate{Burst: 5, PerMinute: 1}
		c.PerToken = Rate{Burst: 2, PerMinute: 1}
	})
	lr := e.create(e.request([]Slot{{Ref: "bob", Name: "Bob", Lang: "en"}}, 0))
	p := path(t, lr.Slots[0].URL)
	t.Run("per token", func(t *testing.T) {
		for i := 0; i < 2; i++ {
			resp := e.do("POST", p, "", strings.NewReader("decision=bogus&lang=en"), "Content-Type", "application/x-www-form-urlencoded")
			wantStatus(t, resp, 400)
		}
		resp := e.do("POST", p, "", strings.NewReader("decision=bogus&lang=en"), "Content-Type", "application/x-www-form-urlencoded")
		got := wantStatus(t, resp, http.StatusTooManyRequests)
		if resp.Header.Get("Retry-After") == "" || !strings.Contains(got, "Too many attempts") {
			t.Fatalf("429 without Retry-After or message: %s", got)
		}
	})
	t.Run("per address", func(t *testing.T) {
		// 3 requests of the 5 allowed were used above.
		for i := 0; i < 2; i++ {
			wantStatus(t, e.do("GET", "/c/guess"+string(rune('a'+i)), "", nil), 404)
		}
		wantStatus(t, e.do("GET", "/c/guessz", "", nil), http.StatusTooManyRequests)
		e.clk.add(time.Minute)
		wantStatus(t, e.do("GET", p, "", nil), 200)
	})
}

func TestPageIsStrictAndAccessible(t *testing.T) {
	e := newEnv(t, nil)
	lr := e.create(e.request([]Slot{{Ref: "bob", Name: "Bob <b>", Lang: "en"}}, 1))
	resp := e.do("GET", path(t, lr.Slots[0].URL), "", nil)
	page := wantStatus(t, resp, 200)
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'", "style-src 'nonce-"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") || strings.Contains(csp, "script-src") {
		t.Errorf("CSP %q allows too much", csp)
	}
	nonce := regexp.MustCompile(`'nonce-([^']+)'`).FindStringSubmatch(csp)[1]
	if !strings.Contains(page, `<style nonce="`+nonce+`">`) {
		t.Error("the page's style does not carry the CSP nonce")
	}
	for k, want := range map[string]string{"Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff",
		"Cache-Control": "no-store", "X-Frame-Options": "DENY"} {
		if resp.Header.Get(k) != want {
			t.Errorf("%s = %q, want %q", k, resp.Header.Get(k), want)
		}
	}
	if resp.Header.Get("Set-Cookie") != "" {
		t.Error("the page sets a cookie")
	}
	for _, bad := range []string{"<script", "http://", "https://", "<iframe", "<img", "<b>", "onclick"} {
		if strings.Contains(page, bad) {
			t.Errorf("the page holds %q", bad)
		}
	}
	for _, want := range []string{`<html lang="en">`, `name="viewport"`, `<main>`, `<label class="check">`, "Bob &lt;b&gt;",
		`type="submit" name="decision" value="given"`, `value="refused"`, "at least 16 years old", `aria-label="Language"`} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	// The notice shown is the one the device sent, byte for byte hashed.
	if m := shaRe.FindStringSubmatch(page); m == nil || m[1] != e.set.Texts["en"].SHA256 {
		t.Error("the page's notice hash is not the English notice's")
	}
	call := wantStatus(t, e.do("GET", path(t, lr.CallURL), "", nil), 200)
	if !strings.Contains(call, `name="name"`) || !strings.Contains(call, `for="name"`) {
		t.Error("the call URL page must ask for a labelled name")
	}
}

func TestPageLanguage(t *testing.T) {
	e := newEnv(t, nil)
	lr := e.create(e.request([]Slot{{Ref: "bob", Name: "Bob", Lang: "de"}}, 0))
	p := path(t, lr.Slots[0].URL)
	cases := []struct{ query, accept, want, word string }{
		{"", "nl-NL,nl;q=0.9,en;q=0.5", "nl", "Ik ga akkoord"},
		{"", "fr-CH, fr;q=0.9", "fr", "accepte l"},
		{"", "es, ja", "de", "Ich willige"}, // none offered: the slot's language
		{"?lang=en", "nl", "en", "I agree"},
		{"?lang=xx", "", "de", "Ich willige"},
	}
	for _, c := range cases {
		page := wantStatus(t, e.do("GET", p+c.query, "", nil, "Accept-Language", c.accept), 200)
		if !strings.Contains(page, `<html lang="`+c.want+`">`) || !strings.Contains(page, c.word) {
			t.Errorf("%q %q: want %s page with %q", c.query, c.accept, c.want, c.word)
		}
		if m := shaRe.FindStringSubmatch(page); m == nil || m[1] != e.set.Texts[c.want].SHA256 {
			t.Errorf("%q %q: notice hash is not the %s text's", c.query, c.accept, c.want)
		}
	}
}

func TestNoticeMarkupIsEscaped(t *testing.T) {
	title, html := renderNotice("# Title <x>\n\nSome **bold** & <script>alert(1)</script>\n- one\n- two **b**\n\n## Sub")
	if title != "Title <x>" {
		t.Fatalf("title %q", title)
	}
	s := string(html)
	for _, want := range []string{"<strong>bold</strong>", "&amp;", "&lt;script&gt;", "<ul>\n<li>one</li>", "<li>two <strong>b</strong></li>", "<h2>Sub</h2>"} {
		if !strings.Contains(s, want) {
			t.Errorf("rendered notice lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "<script") {
		t.Fatal("markup in the notice became markup on the page")
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	if _, err := New(Config{}); err == nil || !strings.Contains(err.Error(), "Auth") {
		t.Fatalf("no auth: %v", err)
	}
	if _, err := New(Config{Auth: fakeAuth, PublicURL: "ftp://x"}); err == nil || !strings.Contains(err.Error(), "PublicURL") {
		t.Fatalf("bad URL: %v", err)
	}
	h, err := New(Config{Auth: fakeAuth, PublicURL: "https://assent.example.org/"})
	if err != nil || h.cfg.PublicURL != "https://assent.example.org" {
		t.Fatalf("%v %q", err, h.cfg.PublicURL)
	}
}

func TestTooManyLinks(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxLinks = 1 })
	e.create(e.request(nil, 1))
	b, _ := json.Marshal(e.request(nil, 1))
	resp := e.do("POST", "/v1/consent-links", "dev-a-token", strings.NewReader(string(b)))
	got := wantStatus(t, resp, http.StatusServiceUnavailable)
	if resp.Header.Get("Retry-After") == "" || !strings.Contains(got, "close links of ended calls") {
		t.Fatal(got)
	}
}

func TestBearerAuth(t *testing.T) {
	notFound := errors.New("not found")
	broken := errors.New("db down")
	auth := BearerAuth(func(_ context.Context, h string) (string, error) {
		switch h {
		case hashToken("good"):
			return "dev-1", nil
		case hashToken("boom"):
			return "", broken
		}
		return "", notFound
	}, notFound)
	for hdr, want := range map[string]error{"": ErrUnauthenticated, "Bearer ": ErrUnauthenticated, "Basic good": ErrUnauthenticated,
		"Bearer bad": ErrUnauthenticated, "bearer good": nil, "Bearer boom": broken} {
		r, _ := http.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", hdr)
		id, err := auth(r)
		if !errors.Is(err, want) || (want == nil && id != "dev-1") {
			t.Errorf("%q: %q %v, want %v", hdr, id, err, want)
		}
	}
	// A failing store is a 500, not a 401.
	e := newEnv(t, func(c *Config) { c.Auth = auth })
	b, _ := json.Marshal(e.request(nil, 1))
	wantStatus(t, e.do("POST", "/v1/consent-links", "boom", strings.NewReader(string(b))), 500)
	wantStatus(t, e.do("POST", "/v1/consent-links", "good", strings.NewReader(string(b))), 201)
}

func TestBadInputGetsClearError_OversizedForm(t *testing.T) {
	e := newEnv(t, nil)
	lr := e.create(e.request([]Slot{{Ref: "bob", Name: "Bob", Lang: "en"}}, 0))
	big := "decision=given&age=yes&lang=en&name=" + strings.Repeat("x", 20<<10)
	got := wantStatus(t, e.do("POST", path(t, lr.Slots[0].URL), "", strings.NewReader(big), "Content-Type", "application/x-www-form-urlencoded"), 400)
	if !strings.Contains(got, "could not be read") || len(e.answers(lr.ID)) != 0 {
		t.Fatal(got)
	}
}
