package sync_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/assent-app/assent/assets"
	"github.com/assent-app/assent/consent"
	"github.com/assent-app/assent/internal/testenv"
	assentsync "github.com/assent-app/assent/sync"
	"github.com/assent-app/assent/sync/server"
)

const adminToken = "admin-token-for-sync-tests-0123"

// testPolicyKey signs the test server's policy (the same across restarts).
var testPolicyKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x51}, 32))

// testServer is a real assentd on a loopback listener that can be stopped
// abruptly and started again on the same address and data directory.
type testServer struct {
	t    testing.TB
	dir  string
	addr string
	hs   *http.Server
	st   server.Store
	srv  *server.Server
}

func startServer(t testing.TB, dir, addr string) *testServer {
	t.Helper()
	st, err := server.OpenSQLite(filepath.Join(dir, "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Store: st, Objects: server.LocalObjects{Dir: filepath.Join(dir, "objects")}, UploadDir: filepath.Join(dir, "uploads"),
		AdminToken: adminToken, SubjectSalt: []byte("sync-test-salt-0123456789"), PolicyKey: testPolicyKey})
	if err != nil {
		t.Fatal(err)
	}
	// The organisation's policy: the notice the test calls use (newCall).
	if ps, err := st.Policies(t.Context()); err != nil {
		t.Fatal(err)
	} else if len(ps) == 0 {
		if _, err := srv.SetPolicy(t.Context(), server.PolicyRequest{NoticeID: consent.DefaultNoticeID, NoticeVersion: "1",
			Org: consent.OrgParams{Controller: "Acme", Contact: "privacy@acme.example"}}); err != nil {
			t.Fatal(err)
		}
	}
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var ln net.Listener
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{t: t, dir: dir, addr: ln.Addr().String(), hs: &http.Server{Handler: srv.Handler()}, st: st, srv: srv}
	go ts.hs.Serve(ln)
	t.Cleanup(ts.stop)
	return ts
}

func (s *testServer) url() string { return "http://" + s.addr }

// stop closes the listener and every connection at once (like a crash).
func (s *testServer) stop() {
	s.hs.Close()
	s.st.Close()
}

func (s *testServer) restart() *testServer {
	s.stop()
	return startServer(s.t, s.dir, s.addr)
}

func (s *testServer) admin(method, path string, body any) (int, []byte) {
	s.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, s.url()+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	return resp.StatusCode, buf.Bytes()
}

// enrol enrols a device with a fresh code and returns its token and key.
func (s *testServer) enrol(t testing.TB) (string, ed25519.PrivateKey) {
	t.Helper()
	code, body := s.admin("POST", "/v1/admin/enrolment-codes", nil)
	if code != 201 {
		t.Fatalf("code: %d %s", code, body)
	}
	var c struct{ Code string }
	json.Unmarshal(body, &c)
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	e, err := assentsync.Enrol(t.Context(), nil, s.url(), c.Code, "test laptop", key.Public().(ed25519.PublicKey), "age1devicerecipient00000000000000000000000000000000000000")
	if err != nil {
		t.Fatal(err)
	}
	return e.Token, key
}

// ---- a real on-disk library ------------------------------------------------------------

// dirLibrary keeps recordings as directories: record.json, seg-NNNNNN.age,
// and marker files "stopped" and "synced"; deletions as files in deleted/.
type dirLibrary struct {
	dir string
	mu  gosync.Mutex
}

func newDirLibrary(t testing.TB) *dirLibrary {
	d := t.TempDir()
	os.MkdirAll(filepath.Join(d, "recs"), 0o700)
	os.MkdirAll(filepath.Join(d, "deleted"), 0o700)
	return &dirLibrary{dir: d}
}

func (l *dirLibrary) recDir(id string) string { return filepath.Join(l.dir, "recs", id) }

func (l *dirLibrary) Unsynced() ([]assentsync.Recording, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ents, err := os.ReadDir(filepath.Join(l.dir, "recs"))
	if err != nil {
		return nil, err
	}
	var out []assentsync.Recording
	for _, e := range ents {
		d := l.recDir(e.Name())
		if _, err := os.Stat(filepath.Join(d, "synced")); err == nil {
			continue
		}
		rec, err := os.ReadFile(filepath.Join(d, "record.json"))
		if err != nil {
			return nil, err
		}
		r := assentsync.Recording{ID: e.Name(), Record: rec, Notices: map[string][]byte{}}
		nts, _ := filepath.Glob(filepath.Join(d, "notices", "*.md"))
		for _, p := range nts {
			b, _ := os.ReadFile(p)
			r.Notices[strings.TrimSuffix(filepath.Base(p), ".md")] = b
		}
		_, err = os.Stat(filepath.Join(d, "stopped"))
		r.Stopped = err == nil
		segs, _ := filepath.Glob(filepath.Join(d, "seg-*.age"))
		sort.Strings(segs)
		for _, p := range segs {
			fi, _ := os.Stat(p)
			idx, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(p), "seg-"), ".age"))
			r.Segments = append(r.Segments, assentsync.Segment{Index: idx, Path: p, Size: fi.Size()})
		}
		out = append(out, r)
	}
	return out, nil
}

func (l *dirLibrary) MarkSynced(id string) error {
	return os.WriteFile(filepath.Join(l.recDir(id), "synced"), nil, 0o600)
}

func (l *dirLibrary) PendingDeletions() ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(l.dir, "deleted"))
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out, err
}

func (l *dirLibrary) DeletionConfirmed(id string) error {
	return os.Remove(filepath.Join(l.dir, "deleted", id))
}

func (l *dirLibrary) synced(id string) bool {
	_, err := os.Stat(filepath.Join(l.recDir(id), "synced"))
	return err == nil
}

// delete removes a recording locally and queues the server deletion.
func (l *dirLibrary) delete(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	os.RemoveAll(l.recDir(id))
	os.WriteFile(filepath.Join(l.dir, "deleted", id), nil, 0o600)
}

// call is one recording in progress: a real consent session writing its
// record after every event and sealed segments as they are "recorded".
type call struct {
	t    testing.TB
	lib  *dirLibrary
	id   string
	s    *consent.Session
	next int
	size int
	end  int64 // stream offset where the last sealed segment ended
	// sealTo, if set, makes each segment an age file to this recipient
	// (size bytes of payload inside), as the recorder seals them.
	sealTo age.Recipient
}

func newCall(t testing.TB, lib *dirLibrary, key ed25519.PrivateKey, id string, segSize int, emails ...string) *call {
	t.Helper()
	set, err := consent.NewLibrary(assets.Notices()).RenderSet(consent.DefaultNoticeID, "1", consent.OrgParams{Controller: "Acme", Contact: "privacy@acme.example"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := consent.NewSession(consent.Config{RecordingID: id, Notices: set, Signer: key})
	if err != nil {
		t.Fatal(err)
	}
	c := &call{t: t, lib: lib, id: id, s: s, next: 1, size: segSize}
	os.MkdirAll(lib.recDir(id), 0o700)
	// The notice texts, stored with the recording as the vault does.
	os.MkdirAll(filepath.Join(lib.recDir(id), "notices"), 0o700)
	for _, n := range set.Texts {
		os.WriteFile(filepath.Join(lib.recDir(id), "notices", n.SHA256+".md"), []byte(n.Text), 0o600)
	}
	for i, em := range emails {
		p := "p" + strconv.Itoa(i)
		c.apply(consent.Event{Type: consent.ParticipantAdded, Participant: p, Principal: &consent.Principal{Name: "Person " + p, Email: em, Lang: "en"}})
		c.apply(consent.Event{Type: consent.ConsentRequested, Participant: p})
		c.apply(consent.Event{Type: consent.ConsentGiven, Participant: p, Method: consent.OnScreen})
		c.apply(consent.Event{Type: consent.AgeConfirmed, Participant: p, Method: consent.OnScreen})
	}
	c.apply(consent.Event{Type: consent.RecordingRequested})
	return c
}

func (c *call) apply(e consent.Event) {
	c.t.Helper()
	if _, err := c.s.Apply(e); err != nil {
		c.t.Fatalf("apply %s: %v", e.Type, err)
	}
	b, err := c.s.Record()
	if err != nil {
		c.t.Fatal(err)
	}
	writeAtomic(c.t, filepath.Join(c.lib.recDir(c.id), "record.json"), b)
}

// seal records 5 s of audio and seals it as one "ciphertext" segment,
// bound to the record as the recorder binds it (record format v2): the
// segment file first, then a SegmentSealed event with its span, SHA-256
// and size, and the record saved.
func (c *call) seal() int {
	c.t.Helper()
	for i := 0; i < 250; i++ {
		if !c.s.Admit(960) {
			c.t.Fatal("gate closed")
		}
	}
	data := make([]byte, c.size)
	rand.Read(data)
	if c.sealTo != nil {
		var buf bytes.Buffer
		w, err := age.Encrypt(&buf, c.sealTo)
		if err != nil {
			c.t.Fatal(err)
		}
		w.Write(data)
		if err := w.Close(); err != nil {
			c.t.Fatal(err)
		}
		data = buf.Bytes()
	}
	writeAtomic(c.t, filepath.Join(c.lib.recDir(c.id), fmt.Sprintf("seg-%06d.age", c.next)), data)
	end := c.s.Offset()
	c.apply(consent.Event{Type: consent.SegmentSealed, Segment: &consent.SegmentRef{Index: c.next, Start: c.end, End: end, SHA256: sha(data), Size: int64(len(data))}})
	c.end = end
	c.next++
	return len(data)
}

func (c *call) stop() {
	c.apply(consent.Event{Type: consent.RecordingStopped})
	writeAtomic(c.t, filepath.Join(c.lib.recDir(c.id), "stopped"), nil)
}

func writeAtomic(t testing.TB, p string, b []byte) {
	t.Helper()
	l := filepath.Join(filepath.Dir(p), "."+filepath.Base(p)+".part")
	if err := os.WriteFile(l, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(l, p); err != nil {
		t.Fatal(err)
	}
}

func newClient(t testing.TB, ts *testServer, token string, lib *dirLibrary, outbox string, limit int64) *assentsync.Client {
	t.Helper()
	c, err := assentsync.New(assentsync.Config{Server: ts.url(), Token: token, Library: lib, OutboxDir: outbox, BandwidthLimit: limit,
		HTTPClient: &http.Client{Timeout: 30 * time.Second}, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// serverSegments returns the stored segments of recording id (index → sha256).
func serverSegments(t testing.TB, ts *testServer, id string) map[int]string {
	segs, err := ts.st.Segments(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]string{}
	for _, s := range segs {
		out[s.Index] = s.SHA256
	}
	return out
}

func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

var errStop = errors.New("stop")

type edPub = ed25519.PublicKey

func newKey() ed25519.PrivateKey {
	_, k, _ := ed25519.GenerateKey(rand.Reader)
	return k
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// schemaAndBucket gives a test of replicas a PostgreSQL schema and an S3
// bucket of its own on the real servers (prefix + random hex; the schema is
// dropped and the bucket emptied at the end). It returns the DSN that uses
// the schema, the bucket's name and the bucket.
func schemaAndBucket(t testing.TB, prefix string) (dsn, bucket string, objs *server.S3Objects) {
	t.Helper()
	s3 := testenv.RequireS3(t)
	dsn, schema := testenv.PostgresSchema(t, prefix)
	bucket = "assent-" + schema
	objs, err := server.NewS3Objects(server.S3Config{Endpoint: s3.Endpoint, Bucket: bucket, AccessKey: s3.AccessKey, SecretKey: s3.SecretKey, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := objs.EnsureBucket(t.Context(), "us-east-1"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { objs.DeletePrefix(context.Background(), "") })
	return dsn, bucket, objs
}
