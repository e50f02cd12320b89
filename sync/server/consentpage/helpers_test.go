package consentpage

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assent-app/assent/assets"
	"github.com/assent-app/assent/consent"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// env is a Handler on a loopback httptest server, two devices "a" and "b".
type env struct {
	t   testing.TB
	h   *Handler
	srv *httptest.Server
	clk *clock
	set *consent.NoticeSet
}

func fakeAuth(r *http.Request) (string, error) {
	switch r.Header.Get("Authorization") {
	case "Bearer dev-a-token":
		return "a", nil
	case "Bearer dev-b-token":
		return "b", nil
	}
	return "", ErrUnauthenticated
}

func newEnv(t testing.TB, mod func(*Config)) *env {
	t.Helper()
	clk := &clock{t: time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC)}
	cfg := Config{Auth: fakeAuth, Now: clk.now, Heartbeat: 50 * time.Millisecond, PerToken: Rate{Burst: 100, PerMinute: 100}}
	if mod != nil {
		mod(&cfg)
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	set, err := consent.NewLibrary(assets.Notices()).RenderSet(consent.DefaultNoticeID, "1",
		consent.OrgParams{Controller: "Acme BV", Contact: "privacy@acme.example"})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, h: h, srv: srv, clk: clk, set: set}
}

func (e *env) request(slots []Slot, open int) LinkRequest {
	req := LinkRequest{RecordingID: "rec-1", Controller: "Acme BV", MinAge: 16, Slots: slots, OpenSlots: open,
		Notice: Notice{ID: e.set.ID, Version: e.set.Version}}
	for _, l := range e.set.Langs() {
		n := e.set.Texts[l]
		req.Notice.Texts = append(req.Notice.Texts, NoticeText{Lang: l, Text: n.Text, SHA256: n.SHA256})
	}
	return req
}

func (e *env) do(method, path, token string, body io.Reader, hdr ...string) *http.Response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func (e *env) create(req LinkRequest) LinkResponse {
	e.t.Helper()
	b, _ := json.Marshal(req)
	resp := e.do("POST", "/v1/consent-links", "dev-a-token", strings.NewReader(string(b)), "Content-Type", "application/json")
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		body, _ := io.ReadAll(resp.Body)
		e.t.Fatalf("create link: %d %s", resp.StatusCode, body)
	}
	var lr LinkResponse
	if err := json.NewDecoder(resp.Body).Decode(&lr); err != nil {
		e.t.Fatal(err)
	}
	return lr
}

// path returns the path of a page URL.
func path(t testing.TB, u string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return p.Path
}

func body(t testing.TB, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var shaRe = regexp.MustCompile(`name="notice" value="([0-9a-f]{64})"`)

// post submits the page's form at p with fields (notice and lang are taken
// from the page unless given).
func (e *env) post(p string, fields url.Values, hdr ...string) *http.Response {
	e.t.Helper()
	if fields.Get("notice") == "" && fields.Get("decision") != Withdrawn {
		page := body(e.t, e.do("GET", p+"?lang="+fields.Get("lang"), "", nil))
		if m := shaRe.FindStringSubmatch(page); m != nil {
			fields.Set("notice", m[1])
		} else if n := e.set.Texts[fields.Get("lang")]; n != nil {
			fields.Set("notice", n.SHA256) // the page shows no form (already answered)
		} else {
			fields.Set("notice", e.set.Texts["en"].SHA256)
		}
	}
	if fields.Get("lang") == "" {
		fields.Set("lang", "en")
	}
	hdr = append(hdr, "Content-Type", "application/x-www-form-urlencoded")
	return e.do("POST", p, "", strings.NewReader(fields.Encode()), hdr...)
}

func (e *env) answers(id string) []Answer {
	l, err := e.h.links.Get(context.Background(), id)
	if err != nil {
		return nil
	}
	return l.Answers
}

func wantStatus(t *testing.T, resp *http.Response, want int) string {
	t.Helper()
	b := body(t, resp)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d\n%s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, want, b)
	}
	return b
}
