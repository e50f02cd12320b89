package remote

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
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
	"github.com/assent-app/assent/audio"
	"github.com/assent-app/assent/consent"
	"github.com/assent-app/assent/recording"
	"github.com/assent-app/assent/sync/server/consentpage"
)

// memStore keeps a call's pages and records in memory (the vault has its
// own tests).
type memStore struct {
	mu      sync.Mutex
	pages   bytes.Buffer
	records [][]byte
}

func (s *memStore) WritePage(p []byte) error {
	s.mu.Lock()
	s.pages.Write(p)
	s.mu.Unlock()
	return nil
}
func (s *memStore) Seal() error  { return nil }
func (s *memStore) Close() error { return nil }
func (s *memStore) SetRecord(b []byte) error {
	s.mu.Lock()
	s.records = append(s.records, append([]byte(nil), b...))
	s.mu.Unlock()
	return nil
}
func (s *memStore) last() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.records[len(s.records)-1]
}

// slowSource paces speech-like audio at about 10× real time.
type slowSource struct{ *audio.PCMSource }

func (s slowSource) Read(buf []float32) error {
	time.Sleep(2 * time.Millisecond)
	return s.PCMSource.Read(buf)
}

const deviceToken = "device-token-of-the-reps-laptop"

// world is a real recording.Call on a PCM source and an in-memory store,
// and assentd's consent pages on a loopback server.
type world struct {
	t      *testing.T
	call   *recording.Call
	store  *memStore
	pub    ed25519.PublicKey
	set    *consent.NoticeSet
	srv    *httptest.Server
	client *Client
}

func newWorld(t *testing.T, wrap func(http.Handler) http.Handler) *world {
	t.Helper()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	set, err := consent.NewLibrary(assets.Notices()).RenderSet(consent.DefaultNoticeID, "1",
		consent.OrgParams{Controller: "Acme BV", Contact: "privacy@acme.example"})
	if err != nil {
		t.Fatal(err)
	}
	st := &memStore{}
	src := slowSource{audio.NewPCMSource(audio.SpeechLike(60, 7), 1, true)}
	call, err := recording.Start(recording.Config{RecordingID: "rec-remote-1", Notices: set, Signer: priv, Source: src, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = call.Stop() })
	h, err := consentpage.New(consentpage.Config{Auth: func(r *http.Request) (string, error) {
		if r.Header.Get("Authorization") == "Bearer "+deviceToken {
			return "laptop-1", nil
		}
		return "", consentpage.ErrUnauthenticated
	}, PerToken: consentpage.Rate{Burst: 100, PerMinute: 100}, PerIP: consentpage.Rate{Burst: 1000, PerMinute: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	var handler http.Handler = h
	if wrap != nil {
		handler = wrap(h)
	}
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	return &world{t: t, call: call, store: st, pub: pub, set: set, srv: srv, client: &Client{BaseURL: srv.URL, Token: deviceToken}}
}

func must(t *testing.T) func(consent.State, error) {
	return func(_ consent.State, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
}

var shaRe = regexp.MustCompile(`name="notice" value="([0-9a-f]{64})"`)

// answer posts the participant page's form as a browser without scripts
// would (GET the page, then POST its form) and returns where it went.
func answer(t *testing.T, pageURL string, fields url.Values) string {
	t.Helper()
	lang := fields.Get("lang")
	if lang == "" {
		lang = "en"
		fields.Set("lang", lang)
	}
	if fields.Get("decision") != "withdrawn" {
		resp, err := http.Get(pageURL + "?lang=" + lang)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := shaRe.FindSubmatch(b)
		if m == nil {
			t.Fatalf("page %s shows no form:\n%s", pageURL, b)
		}
		fields.Set("notice", string(m[1]))
	}
	resp, err := http.PostForm(pageURL, fields)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("answer %v: %d\n%s", fields, resp.StatusCode, b)
	}
	return resp.Request.URL.String()
}

// waitFor polls cond for up to d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("%s did not happen within %v", what, d)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return time.Since(start)
}

func runLink(t *testing.T, l *Link) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	return func() error {
		cancel()
		return <-done
	}
}

func tokenHash(u string) string {
	p, _ := url.Parse(u)
	return hashHex(strings.TrimPrefix(p.Path, "/c/"))
}
