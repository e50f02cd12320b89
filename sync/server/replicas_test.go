package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	gosync "sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/assent-app/assent/assets"
	"github.com/assent-app/assent/consent"
	"github.com/assent-app/assent/internal/testenv"
	"github.com/assent-app/assent/sync/server/consentpage"
)

// cluster is N assentd replicas on one real PostgreSQL and one real
// S3-compatible server (versitygw), behind a round-robin proxy.
type cluster struct {
	h        *harness // talks to the proxy; h.st and h.srv are replica 0's
	replicas []*httptest.Server
	servers  []*Server
	hits     []atomic.Int64 // requests each replica served
	patches  []atomic.Int64 // PATCHes each replica served
	bucket   *S3Objects
}

func newCluster(t *testing.T, n int) *cluster { t.Helper(); return newClusterCfg(t, n, nil) }

// newClusterCfg is newCluster with every replica's Config changed by mod.
func newClusterCfg(t *testing.T, n int, mod func(*Config)) *cluster {
	t.Helper()
	dsn := emptyPostgres(t)
	objs := realS3(t)
	env := testenv.RequireS3(t)
	s3cfg := &S3Config{Endpoint: env.Endpoint, Bucket: objs.bucket, AccessKey: env.AccessKey, SecretKey: env.SecretKey, PathStyle: true}
	c := &cluster{hits: make([]atomic.Int64, n), patches: make([]atomic.Int64, n), bucket: objs}
	h := &harness{t: t, dir: t.TempDir(), now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	var nowMu gosync.Mutex
	now := func() time.Time { nowMu.Lock(); defer nowMu.Unlock(); return h.now }
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	for i := range n {
		st, err := OpenPostgres(dsn)
		if err != nil {
			t.Fatal(err)
		}
		locker, err := NewPGUploadLocker(dsn, 16)
		if err != nil {
			t.Fatal(err)
		}
		o, err := NewS3Objects(*s3cfg)
		if err != nil {
			t.Fatal(err)
		}
		cfg := Config{
			Store: st, Objects: o, UploadDir: filepath.Join(h.dir, fmt.Sprintf("uploads-%d", i)),
			Uploads:    UploadStore{S3: s3cfg, Locker: locker},
			AdminToken: testAdmin, SubjectSalt: []byte("0123456789abcdef-salt"), EscrowRecipient: "age1escrowrecipientfortests0000000000000000000000000000000",
			Now:       now,
			PolicyKey: testPolicyKey, // every replica signs and opens policies with the same key (ASSENTD_POLICY_KEY)
		}
		if mod != nil {
			mod(&cfg)
		}
		srv, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		db, pg, _ := SQLDB(st)
		pages, err := consentpage.New(consentpage.Config{Auth: consentpage.BearerAuth(func(ctx context.Context, th string) (string, error) {
			d, err := st.DeviceByToken(ctx, th)
			return d.ID, err
		}, ErrNotFound), Links: consentpage.NewSQLLinks(db, pg, nil), Heartbeat: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		pages.Register(srv)
		go pages.Run(ctx)
		inner := srv.Handler()
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c.hits[i].Add(1)
			if r.Method == http.MethodPatch {
				c.patches[i].Add(1)
			}
			inner.ServeHTTP(w, r)
		}))
		t.Cleanup(func() { ts.Close(); st.Close(); locker.Close() })
		c.replicas = append(c.replicas, ts)
		c.servers = append(c.servers, srv)
		if i == 0 {
			h.srv, h.st = srv, st
		}
	}
	var next atomic.Int64
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		u, _ := url.Parse(c.replicas[int(next.Add(1)-1)%n].URL)
		r.SetURL(u)
		r.Out.Host = r.In.Host // as a load balancer: the public host stays
	}, FlushInterval: -1}
	h.ts = httptest.NewServer(proxy)
	t.Cleanup(h.ts.Close)
	c.h = h
	// The administrator sets the organisation's policy once, through the
	// cluster: it lives in the shared database, so every replica has it.
	resp, body := h.do("PUT", "/v1/admin/policy", testAdmin, testPolicy)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("set policy: %d %s", resp.StatusCode, body)
	}
	return c
}

// createUpload creates the tus upload of one segment (through the proxy)
// and returns its public URL.
func (h *harness) createUpload(d dev, rec string, idx int, data []byte) string {
	h.t.Helper()
	req, _ := http.NewRequest("POST", h.ts.URL+"/v1/uploads/", nil)
	req.Header.Set("Authorization", "Bearer "+d.token)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Length", strconv.Itoa(len(data)))
	req.Header.Set("Upload-Metadata", meta(map[string]string{"recording": rec, "index": strconv.Itoa(idx), "sha256": sum(data)}))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 {
		h.t.Fatalf("create upload: %d %s", resp.StatusCode, b)
	}
	return resp.Header.Get("Location")
}

// uploadInParts sends one segment with tus in parts PATCHes (through the
// proxy, so consecutive requests reach different replicas).
func (h *harness) uploadInParts(d dev, rec string, idx int, data []byte, parts int) {
	h.t.Helper()
	loc := h.createUpload(d, rec, idx, data)
	if !strings.HasPrefix(loc, h.ts.URL) {
		h.t.Fatalf("upload Location %q is not on the public (proxy) URL %s", loc, h.ts.URL)
	}
	step := (len(data) + parts - 1) / parts
	for off := 0; off < len(data); off += step {
		end := min(off+step, len(data))
		req, _ := http.NewRequest("PATCH", loc, bytes.NewReader(data[off:end]))
		req.Header.Set("Authorization", "Bearer "+d.token)
		req.Header.Set("Tus-Resumable", "1.0.0")
		req.Header.Set("Upload-Offset", strconv.Itoa(off))
		req.Header.Set("Content-Type", "application/offset+octet-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			h.t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 204 {
			h.t.Fatalf("PATCH %d-%d of segment %d: %d %s", off, end, idx, resp.StatusCode, b)
		}
	}
}

// Three replicas on one PostgreSQL and one S3 server behind a round-robin
// proxy: enrol through one, upload every segment in three PATCHes that
// reach three different replicas (uploads in progress live in S3, locked in
// PostgreSQL), finalise, and the admin finds, exports and erases the
// recording through the others; a consent answer given on one replica
// reaches the device streaming from another.
func TestReplicasServeOneCluster(t *testing.T) {
	c := newCluster(t, 3)
	h := c.h
	d := h.enrol(1)
	rec := "rec-cluster"
	resp, body := h.do("POST", "/v1/recordings", d.token, map[string]any{"id": rec, "record": json.RawMessage(makeRecord(t, d.key, rec, false, "ann@example.com"))})
	if resp.StatusCode != 201 {
		t.Fatalf("register: %d %s", resp.StatusCode, body)
	}
	var segs []SegmentInfo
	for i := 1; i <= 3; i++ {
		data := segData(rec, i)
		before := make([]int64, 3)
		for r := range before {
			before[r] = c.patches[r].Load()
		}
		h.uploadInParts(d, rec, i, data, 3)
		for r := range before {
			if c.patches[r].Load() != before[r]+1 {
				t.Fatalf("segment %d: replica %d served %d of its PATCHes, want exactly 1 per replica", i, r, c.patches[r].Load()-before[r])
			}
		}
		segs = append(segs, SegmentInfo{Index: i, Size: int64(len(data)), SHA256: sum(data)})
	}
	resp, body = h.do("PUT", "/v1/recordings/"+rec+"/final", d.token, map[string]any{"record": json.RawMessage(makeRecord(t, d.key, rec, true, "ann@example.com")), "segments": segs})
	if resp.StatusCode != 200 {
		t.Fatalf("finalise: %d %s", resp.StatusCode, body)
	}
	// Every stored segment is the uploaded bytes; no upload is left behind.
	for i := 1; i <= 3; i++ {
		rc, err := c.bucket.Get(t.Context(), segKey(rec, i))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if !bytes.Equal(got, segData(rec, i)) {
			t.Fatalf("segment %d stored as %d different bytes", i, len(got))
		}
	}
	keys := countObjects(t, c.bucket)
	for _, k := range keys {
		if strings.HasPrefix(k, "uploads/") {
			t.Fatalf("finished upload left %s in the bucket (all: %v)", k, keys)
		}
	}
	if len(keys) != 4 {
		t.Fatalf("bucket holds %v, want the record and 3 segments once each", keys)
	}

	ann := map[string]string{"email": "ann@example.com"}
	resp, body = h.do("POST", "/v1/admin/subjects/recordings", testAdmin, ann)
	if resp.StatusCode != 200 || !strings.Contains(string(body), rec) {
		t.Fatalf("admin list: %d %s", resp.StatusCode, body)
	}
	resp, body = h.do("POST", "/v1/admin/subjects/export", testAdmin, ann)
	if resp.StatusCode != 200 || len(body) < 100 {
		t.Fatalf("admin export: %d %d bytes", resp.StatusCode, len(body))
	}
	resp, body = h.do("POST", "/v1/admin/subjects/erase", testAdmin, ann)
	if resp.StatusCode != 200 || !strings.Contains(string(body), rec) {
		t.Fatalf("admin erase: %d %s", resp.StatusCode, body)
	}
	assertGone(t, h, rec)
	if keys := countObjects(t, c.bucket); len(keys) != 0 {
		t.Fatalf("erase left %v in the bucket", keys)
	}
	for r := range c.hits {
		if c.hits[r].Load() < 4 {
			t.Fatalf("replica %d served only %d requests", r, c.hits[r].Load())
		}
	}
	for r, s := range c.servers {
		if err := s.Ready(t.Context()); err != nil {
			t.Fatalf("replica %d not ready: %v", r, err)
		}
	}

	// Remote consent across replicas: the device streams from replica 2,
	// the participant answers on replica 0.
	set, err := consent.NewLibrary(assets.Notices()).RenderSet(consent.DefaultNoticeID, "1", consent.OrgParams{Controller: "Acme", Contact: "privacy@acme.example"})
	if err != nil {
		t.Fatal(err)
	}
	lreq := consentpage.LinkRequest{RecordingID: "rec-call", MinAge: 16, Slots: []consentpage.Slot{{Ref: "bob", Name: "Bob", Lang: "en"}},
		Notice: consentpage.Notice{ID: set.ID, Version: set.Version}}
	for _, l := range set.Langs() {
		lreq.Notice.Texts = append(lreq.Notice.Texts, consentpage.NoticeText{Lang: l, Text: set.Texts[l].Text, SHA256: set.Texts[l].SHA256})
	}
	resp, body = h.do("POST", "/v1/consent-links", d.token, lreq)
	if resp.StatusCode != 201 {
		t.Fatalf("create link: %d %s", resp.StatusCode, body)
	}
	var lr consentpage.LinkResponse
	json.Unmarshal(body, &lr)
	sctx, scancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer scancel()
	sreq, _ := http.NewRequestWithContext(sctx, "GET", c.replicas[2].URL+"/v1/consent-links/"+lr.ID+"/events", nil)
	sreq.Header.Set("Authorization", "Bearer "+d.token)
	sresp, err := http.DefaultClient.Do(sreq)
	if err != nil || sresp.StatusCode != 200 {
		t.Fatalf("stream on replica 2: %v %v", sresp, err)
	}
	defer sresp.Body.Close()
	got := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(sresp.Body)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "data: ") {
				got <- sc.Text()
				return
			}
		}
		close(got)
	}()
	page, _ := url.Parse(lr.Slots[0].URL)
	pr, _ := http.Get(c.replicas[0].URL + page.Path + "?lang=en")
	pb, _ := io.ReadAll(pr.Body)
	pr.Body.Close()
	m := regexp.MustCompile(`name="notice" value="([0-9a-f]{64})"`).FindStringSubmatch(string(pb))
	if m == nil {
		t.Fatalf("participant page on replica 0 has no form: %d", pr.StatusCode)
	}
	start := time.Now()
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	ar, err := noRedirect.PostForm(c.replicas[0].URL+page.Path, url.Values{"decision": {"given"}, "age": {"yes"}, "lang": {"en"}, "notice": {m[1]}})
	if err != nil || ar.StatusCode != http.StatusSeeOther {
		t.Fatalf("answer on replica 0: %v %v", ar, err)
	}
	ar.Body.Close()
	select {
	case line := <-got:
		if !strings.Contains(line, `"given"`) {
			t.Fatalf("stream on replica 2 got %s", line)
		}
		t.Logf("consent answer on replica 0 reached the stream on replica 2 in %v", time.Since(start))
	case <-sctx.Done():
		t.Fatal("the answer given on replica 0 never reached the stream on replica 2")
	}
}

// A replica killed after the last byte of a segment reached S3 and before
// tusd finished the upload (completed the multipart upload) left every byte
// stored but no object: the device's HEAD then says complete, a PATCH has
// nothing to send, and commit answered ERR_INCOMPLETE_UPLOAD for ever — the
// recording could never sync (found by TestNothingLostOnCrash_KillOneReplica
// under load). The commit through another replica now finishes the upload
// and stores the segment.
func TestNothingLostOnCrash_ReplicaKilledBeforeUploadFinished(t *testing.T) {
	c := newCluster(t, 2)
	h := c.h
	d := h.enrol(1)
	rec := "rec-unfinished"
	resp, body := h.do("POST", "/v1/recordings", d.token, map[string]any{"id": rec, "record": json.RawMessage(makeRecord(t, d.key, rec, false, "ann@example.com"))})
	if resp.StatusCode != 201 {
		t.Fatalf("register: %d %s", resp.StatusCode, body)
	}
	data := segData(rec, 1)
	loc := h.createUpload(d, rec, 1, data)
	id := loc[strings.LastIndexByte(loc, '/')+1:]
	// What the killed replica did before dying: every byte written to the
	// store, FinishUpload (and the commit hook) never run.
	up, err := c.servers[0].tusStore.GetUpload(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := up.WriteChunk(t.Context(), 0, bytes.NewReader(data)); err != nil || n != int64(len(data)) {
		t.Fatalf("write chunk: %d %v", n, err)
	}
	if _, err := up.GetReader(t.Context()); err == nil {
		t.Fatal("the store already reads the unfinished upload: this test no longer reproduces the crash")
	}
	// The device resumes through the other replica: HEAD says complete,
	// so it commits.
	hr, _ := http.NewRequest("HEAD", loc, nil)
	hr.Header.Set("Authorization", "Bearer "+d.token)
	hr.Header.Set("Tus-Resumable", "1.0.0")
	hresp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	hresp.Body.Close()
	if hresp.Header.Get("Upload-Offset") != strconv.Itoa(len(data)) {
		t.Fatalf("HEAD after the crash: offset %q of %d", hresp.Header.Get("Upload-Offset"), len(data))
	}
	resp, body = h.do("POST", "/v1/recordings/"+rec+"/segments/1/commit", d.token, CommitRequest{Upload: id})
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("commit after the crash: %d %s", resp.StatusCode, body)
	}
	rc, err := c.bucket.Get(t.Context(), segKey(rec, 1))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, data) {
		t.Fatalf("segment stored as %d different bytes", len(got))
	}
	resp, body = h.do("PUT", "/v1/recordings/"+rec+"/final", d.token, map[string]any{"record": json.RawMessage(makeRecord(t, d.key, rec, true, "ann@example.com")),
		"segments": []SegmentInfo{{Index: 1, Size: int64(len(data)), SHA256: sum(data)}}})
	if resp.StatusCode != 200 {
		t.Fatalf("finalise: %d %s", resp.StatusCode, body)
	}
}
