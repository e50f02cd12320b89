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
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/assent-app/assent/assets"
	"github.com/assent-app/assent/audio"
	"github.com/assent-app/assent/consent"

	"github.com/assent-app/assent/recording"
	assentsync "github.com/assent-app/assent/sync"
	"github.com/assent-app/assent/sync/server"
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

// world is a real recording.Call on a PCM source and an in-memory store,
// and a real assentd (SQLite index, consent pages mounted) on loopback
// with this device enrolled.
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
	srv, token := startAssentd(t, wrap, pub)
	return &world{t: t, call: call, store: st, pub: pub, set: set, srv: srv, client: &Client{BaseURL: srv.URL, Token: token}}
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

// startAssentd runs assentd's API with the consent pages mounted, as
// cmd/assentd does, and enrols a device; it returns the server and the
// device token.
func startAssentd(t *testing.T, wrap func(http.Handler) http.Handler, signing ed25519.PublicKey) (*httptest.Server, string) {
	t.Helper()
	dir := t.TempDir()
	st, err := server.OpenSQLite(filepath.Join(dir, "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Store: st, Objects: server.LocalObjects{Dir: filepath.Join(dir, "objects")},
		UploadDir: filepath.Join(dir, "uploads"), AdminToken: "admin-token-for-remote-tests", SubjectSalt: []byte("salt-for-remote-tests")})
	if err != nil {
		t.Fatal(err)
	}
	pages, err := consentpage.New(consentpage.Config{
		Auth: consentpage.BearerAuth(func(ctx context.Context, h string) (string, error) {
			d, err := st.DeviceByToken(ctx, h)
			return d.ID, err
		}, server.ErrNotFound),
		PerToken: consentpage.Rate{Burst: 100, PerMinute: 100}, PerIP: consentpage.Rate{Burst: 1000, PerMinute: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	pages.Register(srv)
	var h http.Handler = srv.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(func() { ts.Close(); st.Close() })
	code, _, err := server.NewEnrolmentCode(context.Background(), st, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	e, err := assentsync.Enrol(context.Background(), nil, ts.URL, code, "rep laptop", signing, id.Recipient().String())
	if err != nil {
		t.Fatal(err)
	}
	return ts, e.Token
}
