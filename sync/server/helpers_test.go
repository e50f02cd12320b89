package server

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/assent-app/assent/assets"
	"github.com/assent-app/assent/consent"
)

const testAdmin = "admin-token-for-tests-0123456789"

// testPolicyKey signs the test servers' policies; testPolicy is the policy
// the records of makeRecord follow (the default notice for Acme).
var (
	testPolicyKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x50}, 32))
	testPolicy    = PolicyRequest{NoticeID: consent.DefaultNoticeID, NoticeVersion: "1", Org: consent.OrgParams{Controller: "Acme", Contact: "privacy@acme.example"}}
)

type harness struct {
	t   *testing.T
	srv *Server
	ts  *httptest.Server
	st  Store
	dir string
	now time.Time
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	st, err := OpenSQLite(filepath.Join(t.TempDir(), "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	return newHarnessWith(t, st)
}

func newHarnessWith(t *testing.T, st Store) *harness {
	return newHarnessWithObjects(t, st, nil)
}

func newHarnessWithObjects(t *testing.T, st Store, objs Objects) *harness {
	return newHarnessCfg(t, st, objs, nil)
}

// newHarnessCfg is the harness with edit applied to the server's Config.
func newHarnessCfg(t *testing.T, st Store, objs Objects, edit func(*Config)) *harness {
	t.Helper()
	dir := t.TempDir()
	if objs == nil {
		objs = LocalObjects{Dir: filepath.Join(dir, "objects")}
	}
	h := &harness{t: t, st: st, dir: dir, now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	cfg := Config{
		Store: st, Objects: objs, UploadDir: filepath.Join(dir, "uploads"),
		AdminToken: testAdmin, SubjectSalt: []byte("0123456789abcdef-salt"), EscrowRecipient: "age1escrowrecipientfortests0000000000000000000000000000000",
		Now:       func() time.Time { return h.now },
		TokenTTL:  50 * 365 * 24 * time.Hour, // tests move the clock by years (retention)
		PolicyKey: testPolicyKey,
	}
	if edit != nil {
		edit(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.srv = srv
	if _, err := srv.SetPolicy(t.Context(), testPolicy); err != nil {
		t.Fatal(err)
	}
	// Served as cmd/assentd serves it: the same constructor and limits.
	h.ts = httptest.NewUnstartedServer(nil)
	h.ts.Config = srv.HTTPServer(Limits{})
	h.ts.Start()
	t.Cleanup(func() { h.ts.Close(); st.Close() })
	return h
}

type dev struct {
	key   ed25519.PrivateKey
	token string
	id    string
}

func (h *harness) do(method, path, token string, body any) (*http.Response, []byte) {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, h.ts.URL+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, out
}

func (h *harness) enrol(seed byte) dev {
	h.t.Helper()
	resp, body := h.do("POST", "/v1/admin/enrolment-codes", testAdmin, nil)
	if resp.StatusCode != 201 {
		h.t.Fatalf("create code: %d %s", resp.StatusCode, body)
	}
	var code struct{ Code string }
	json.Unmarshal(body, &code)
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, 32))
	resp, body = h.do("POST", "/v1/enrol", "", map[string]string{
		"code": code.Code, "name": "laptop", "signing_key": base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey)),
		"age_recipient": "age1devicerecipient000000000000000000000000000000000000",
	})
	if resp.StatusCode != 201 {
		h.t.Fatalf("enrol: %d %s", resp.StatusCode, body)
	}
	var e EnrolResponse
	json.Unmarshal(body, &e)
	return dev{key: key, token: e.Token, id: e.DeviceID}
}

// makeRecord builds a real consent record with consent.Session: the given
// people consent, frames are recorded, and (if final) the recording stops.
func makeRecord(t testing.TB, key ed25519.PrivateKey, recID string, final bool, emails ...string) []byte {
	t.Helper()
	set, err := consent.NewLibrary(assets.Notices()).RenderSet(consent.DefaultNoticeID, "1", consent.OrgParams{Controller: "Acme", Contact: "privacy@acme.example"})
	if err != nil {
		t.Fatal(err)
	}
	clk := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	s, err := consent.NewSession(consent.Config{RecordingID: recID, RecordID: "rec-" + recID, Notices: set, Signer: key, Now: func() time.Time { clk = clk.Add(time.Millisecond); return clk }})
	if err != nil {
		t.Fatal(err)
	}
	apply := func(e consent.Event) {
		if _, err := s.Apply(e); err != nil {
			t.Fatalf("apply %s: %v", e.Type, err)
		}
	}
	for i, em := range emails {
		id := "p" + strconv.Itoa(i)
		apply(consent.Event{Type: consent.ParticipantAdded, Participant: id, Principal: &consent.Principal{Name: "Person " + id, Email: em, Lang: "en"}})
		apply(consent.Event{Type: consent.ConsentRequested, Participant: id})
		apply(consent.Event{Type: consent.ConsentGiven, Participant: id, Method: consent.OnScreen})
		apply(consent.Event{Type: consent.AgeConfirmed, Participant: id, Method: consent.OnScreen})
	}
	apply(consent.Event{Type: consent.RecordingRequested})
	for i := 0; i < 10; i++ {
		if !s.Admit(960) {
			t.Fatal("gate closed")
		}
	}
	if final {
		apply(consent.Event{Type: consent.RecordingStopped})
	}
	b, err := s.Record()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func meta(m map[string]string) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, k+" "+base64.StdEncoding.EncodeToString([]byte(v)))
	}
	return strings.Join(parts, ",")
}

// upload sends one whole segment with tus (create + PATCH) and returns the PATCH answer.
func (h *harness) upload(d dev, rec string, idx int, data []byte, claimed string) (*http.Response, []byte) {
	h.t.Helper()
	req, _ := http.NewRequest("POST", h.ts.URL+"/v1/uploads/", nil)
	req.Header.Set("Authorization", "Bearer "+d.token)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Length", strconv.Itoa(len(data)))
	req.Header.Set("Upload-Metadata", meta(map[string]string{"recording": rec, "index": strconv.Itoa(idx), "sha256": claimed}))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 {
		return resp, body
	}
	loc := resp.Header.Get("Location")
	req, _ = http.NewRequest("PATCH", loc, bytes.NewReader(data))
	req.Header.Set("Authorization", "Bearer "+d.token)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Offset", "0")
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, body
}

func segData(rec string, idx int) []byte {
	return bytes.Repeat([]byte(fmt.Sprintf("age-ciphertext %s %d|", rec, idx)), 200)
}

// fullRecording registers, uploads n segments and finalises recording rec of d.
func (h *harness) fullRecording(d dev, rec string, n int, emails ...string) {
	h.t.Helper()
	resp, body := h.do("POST", "/v1/recordings", d.token, map[string]any{"id": rec, "record": json.RawMessage(makeRecord(h.t, d.key, rec, false, emails...))})
	if resp.StatusCode != 201 {
		h.t.Fatalf("register: %d %s", resp.StatusCode, body)
	}
	var segs []SegmentInfo
	for i := 1; i <= n; i++ {
		data := segData(rec, i)
		if resp, body := h.upload(d, rec, i, data, sum(data)); resp.StatusCode != 204 {
			h.t.Fatalf("upload %d: %d %s", i, resp.StatusCode, body)
		}
		segs = append(segs, SegmentInfo{Index: i, Size: int64(len(data)), SHA256: sum(data)})
	}
	resp, body = h.do("PUT", "/v1/recordings/"+rec+"/final", d.token, map[string]any{"record": json.RawMessage(makeRecord(h.t, d.key, rec, true, emails...)), "segments": segs})
	if resp.StatusCode != 200 {
		h.t.Fatalf("finalise: %d %s", resp.StatusCode, body)
	}
}

// wantProblem checks a problem+json answer with the status and slug.
func wantProblem(t *testing.T, resp *http.Response, body []byte, status int, slug string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json (body %s)", ct, body)
	}
	var p problemDoc
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("problem body is not JSON: %s", body)
	}
	if !strings.HasSuffix(p.Type, "/"+slug) || p.Status != status || len(p.Detail) < 20 {
		t.Fatalf("problem %+v, want slug %q with a clear detail", p, slug)
	}
}
