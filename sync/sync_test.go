package sync_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	gosync "sync"
	"testing"
	"time"

	assentsync "github.com/assent-app/assent/sync"
)

func fileSum(t testing.TB, p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// checkAllOnServer asserts the server holds every local segment of id, byte-identical, finalised.
func checkAllOnServer(t testing.TB, ts *testServer, lib *dirLibrary, id string, n int) {
	t.Helper()
	got := serverSegments(t, ts, id)
	if len(got) != n {
		t.Fatalf("server holds %d segments of %s, want %d", len(got), id, n)
	}
	for i := 1; i <= n; i++ {
		p := filepath.Join(lib.recDir(id), "seg-"+pad(i)+".age")
		if got[i] != fileSum(t, p) {
			t.Fatalf("segment %d differs on the server", i)
		}
		rc, err := ts.srv.Objects().Get(context.Background(), "recordings/"+id+"/seg-"+pad(i)+".age")
		if err != nil {
			t.Fatalf("segment %d object: %v", i, err)
		}
		rc.Close()
	}
	r, err := ts.st.Recording(context.Background(), id)
	if err != nil || !r.Finalised() {
		t.Fatalf("%s not finalised on the server: %+v %v", id, r, err)
	}
	if !lib.synced(id) {
		t.Fatalf("%s not marked synced locally", id)
	}
}

func pad(i int) string { return leftPad(i) }

func leftPad(i int) string {
	s := []byte("000000")
	for j := 5; j >= 0 && i > 0; j-- {
		s[j] = byte('0' + i%10)
		i /= 10
	}
	return string(s)
}

func TestSyncDuringCallThenFinalise(t *testing.T) {
	ts := startServer(t, t.TempDir(), "")
	token, key := ts.enrol(t)
	lib := newDirLibrary(t)
	var mu gosync.Mutex
	var seen []assentsync.Progress
	c, err := assentsync.New(assentsync.Config{Server: ts.url(), Token: token, Library: lib, OutboxDir: t.TempDir(),
		OnProgress: func(p assentsync.Progress) { mu.Lock(); seen = append(seen, p); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	call := newCall(t, lib, key, "rec-live", 4000, "ann@example.com", "bob@example.com")
	call.seal()
	call.seal()
	if err := c.SyncOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Uploaded while the call goes on; not finalised yet.
	if got := serverSegments(t, ts, "rec-live"); len(got) != 2 {
		t.Fatalf("during the call the server holds %d segments, want 2", len(got))
	}
	if snap := c.Snapshot(); len(snap) != 1 || snap[0].Phase != assentsync.PhaseWaiting || snap[0].SegmentsDone != 2 {
		t.Fatalf("snapshot during call: %+v", snap)
	}
	call.seal()
	call.stop()
	sentBefore := c.BytesSent()
	if err := c.SyncOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	if d := c.BytesSent() - sentBefore; d != 4000 {
		t.Fatalf("second pass sent %d bytes, want only the new segment's 4000", d)
	}
	checkAllOnServer(t, ts, lib, "rec-live", 3)
	// The notice texts went with the record (issue 10 item 5).
	stored, _ := filepath.Glob(filepath.Join(ts.dir, "objects", "recordings", "rec-live", "notices", "*.md"))
	if len(stored) == 0 {
		t.Fatal("the server holds no notice text of the recording")
	}
	for _, p := range stored {
		b, _ := os.ReadFile(p)
		if sum := sha256.Sum256(b); hex.EncodeToString(sum[:])+".md" != filepath.Base(p) {
			t.Fatalf("the server's %s does not hash to its name", filepath.Base(p))
		}
	}
	if snap := c.Snapshot(); snap[0].Phase != assentsync.PhaseSynced || snap[0].BytesDone != 12000 {
		t.Fatalf("final snapshot %+v", snap)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) < 4 {
		t.Fatalf("OnProgress called %d times", len(seen))
	}
	// Nothing left to do: a further pass sends nothing.
	if err := c.SyncOnce(t.Context()); err != nil || c.BytesSent() != 12000 {
		t.Fatalf("idle pass: %v, sent %d", err, c.BytesSent())
	}
}

// TestNothingLostOnCrash_ServerRestartMidUpload stops the server abruptly in
// the middle of an upload and starts it again: the client resumes at the
// server's offset and re-sends at most one segment's worth of bytes.
func TestNothingLostOnCrash_ServerRestartMidUpload(t *testing.T) {
	ts := startServer(t, t.TempDir(), "")
	token, key := ts.enrol(t)
	lib := newDirLibrary(t)
	const segSize, n = 200 << 10, 8
	call := newCall(t, lib, key, "rec-r", segSize, "ann@example.com")
	for i := 0; i < n; i++ {
		call.seal()
	}
	call.stop()
	c := newClient(t, ts, token, lib, t.TempDir(), 2<<20) // 2 MB/s: the upload takes ~0.8 s
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	waitFor(t, 20*time.Second, "half the bytes sent", func() bool { return c.BytesSent() > segSize*n/2+segSize/2 })
	ts = ts.restart()
	waitFor(t, 40*time.Second, "the recording synced", func() bool { return lib.synced("rec-r") })
	cancel()
	<-done
	checkAllOnServer(t, ts, lib, "rec-r", n)
	if over := c.BytesSent() - segSize*n; over > segSize {
		t.Fatalf("re-sent %d bytes after the restart, more than one segment (%d)", over, segSize)
	} else {
		t.Logf("bytes re-sent after server restart: %d (segment %d)", over, segSize)
	}
}

// TestNothingLostOnCrash_AppRestartResumes kills the client mid-segment (its
// context ends mid-PATCH, as when the app dies) and starts a new client on
// the same outbox: it HEADs the upload and continues from the server's offset.
func TestNothingLostOnCrash_AppRestartResumes(t *testing.T) {
	ts := startServer(t, t.TempDir(), "")
	token, key := ts.enrol(t)
	lib := newDirLibrary(t)
	const segSize = 1 << 20
	call := newCall(t, lib, key, "rec-a", segSize, "ann@example.com")
	call.seal()
	call.seal()
	call.stop()
	outbox := t.TempDir()
	c1 := newClient(t, ts, token, lib, outbox, 2<<20)
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		waitFor(t, 20*time.Second, "mid-segment", func() bool { return c1.BytesSent() > segSize+segSize/2 })
		cancel()
	}()
	if err := c1.SyncOnce(ctx); err == nil {
		t.Fatal("the interrupted pass reported success")
	}
	if len(serverSegments(t, ts, "rec-a")) != 1 {
		t.Fatal("the first segment should be on the server, the second in progress")
	}
	c2 := newClient(t, ts, token, lib, outbox, 0)
	if err := c2.SyncOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	checkAllOnServer(t, ts, lib, "rec-a", 2)
	total := c1.BytesSent() + c2.BytesSent()
	if total-2*segSize > segSize || c2.BytesSent() >= segSize {
		t.Fatalf("client 2 sent %d bytes (total %d): it did not resume", c2.BytesSent(), total)
	}
	t.Logf("client 1 sent %d, client 2 resumed and sent %d", c1.BytesSent(), c2.BytesSent())
}

// flakyTransport cuts every n-th PATCH after a few KiB (a dropped network).
type flakyTransport struct {
	mu    gosync.Mutex
	n, i  int
	inner http.RoundTripper
}

type cutBody struct {
	r    interface{ Read([]byte) (int, error) }
	left int
}

func (b *cutBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, errors.New("network down")
	}
	if len(p) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= n
	return n, err
}
func (b *cutBody) Close() error { return nil }

func (f *flakyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPatch {
		f.mu.Lock()
		f.i++
		cut := f.i%f.n == 1
		f.mu.Unlock()
		if cut {
			r = r.Clone(r.Context())
			r.Body = &cutBody{r: r.Body, left: 3000}
		}
	}
	return f.inner.RoundTrip(r)
}

func TestNothingLostOnCrash_NetworkDrops(t *testing.T) {
	ts := startServer(t, t.TempDir(), "")
	token, key := ts.enrol(t)
	lib := newDirLibrary(t)
	const segSize, n = 20000, 6
	call := newCall(t, lib, key, "rec-n", segSize, "ann@example.com")
	for i := 0; i < n; i++ {
		call.seal()
	}
	call.stop()
	c, err := assentsync.New(assentsync.Config{Server: ts.url(), Token: token, Library: lib, OutboxDir: t.TempDir(),
		HTTPClient: &http.Client{Transport: &flakyTransport{n: 2, inner: http.DefaultTransport.(*http.Transport).Clone()}},
		MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	go c.Run(ctx)
	waitFor(t, 30*time.Second, "synced despite drops", func() bool { return lib.synced("rec-n") })
	cancel()
	checkAllOnServer(t, ts, lib, "rec-n", n)
	if over := c.BytesSent() - segSize*n; over > segSize {
		t.Fatalf("re-sent %d bytes with dropping network", over)
	}
}

func TestDeleteMeansDelete_PropagatedAndRetried(t *testing.T) {
	ts := startServer(t, t.TempDir(), "")
	token, key := ts.enrol(t)
	lib := newDirLibrary(t)
	call := newCall(t, lib, key, "rec-d", 3000, "ann@example.com")
	call.seal()
	call.stop()
	c := newClient(t, ts, token, lib, t.TempDir(), 0)
	if err := c.SyncOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	checkAllOnServer(t, ts, lib, "rec-d", 1)

	// Deleted locally while the server is down: the deletion stays pending.
	ts.stop()
	lib.delete("rec-d")
	if err := c.SyncOnce(t.Context()); err == nil {
		t.Fatal("deletion reported done while the server was down")
	}
	if p, _ := lib.PendingDeletions(); len(p) != 1 {
		t.Fatal("the pending deletion was forgotten")
	}
	ts = startServer(t, ts.dir, ts.addr)
	if err := c.SyncOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	if p, _ := lib.PendingDeletions(); len(p) != 0 {
		t.Fatal("deletion not confirmed")
	}
	if _, err := ts.st.Recording(context.Background(), "rec-d"); err == nil {
		t.Fatal("server still indexes the deleted recording")
	}
	if _, err := os.Stat(filepath.Join(ts.dir, "objects", "recordings", "rec-d")); !os.IsNotExist(err) {
		t.Fatalf("server still stores objects of the deleted recording: %v", err)
	}
}

func TestEveryStoredSecondProvable_ClientGetsClearRefusal(t *testing.T) {
	ts := startServer(t, t.TempDir(), "")
	token, _ := ts.enrol(t)
	_, otherKey := ts.enrol(t)
	lib := newDirLibrary(t)
	call := newCall(t, lib, otherKey, "rec-x", 3000, "ann@example.com") // signed with another device's key
	call.seal()
	call.stop()
	c := newClient(t, ts, token, lib, t.TempDir(), 0)
	err := c.SyncOnce(t.Context())
	var pe *assentsync.ProblemError
	if !errors.As(err, &pe) || pe.Status != 422 || pe.Slug() != "record-invalid" {
		t.Fatalf("want a record-invalid refusal, got %v", err)
	}
	if snap := c.Snapshot(); snap[0].Phase != assentsync.PhaseFailed || snap[0].Err == "" {
		t.Fatalf("progress does not show the refusal: %+v", snap)
	}
	if len(serverSegments(t, ts, "rec-x")) != 0 || c.BytesSent() != 0 {
		t.Fatal("segments were sent for a recording the server refused")
	}
}

func TestBadInputGetsClearError_ClientConfig(t *testing.T) {
	for _, cfg := range []assentsync.Config{
		{Server: "ftp://x", Token: "t", Library: newDirLibrary(t), OutboxDir: t.TempDir()},
		{Server: "http://127.0.0.1:1", Library: newDirLibrary(t), OutboxDir: t.TempDir()},
		{Server: "http://127.0.0.1:1", Token: "t"},
	} {
		if _, err := assentsync.New(cfg); err == nil || len(err.Error()) < 30 {
			t.Fatalf("config %+v: unclear or no error %v", cfg, err)
		}
	}
	ts := startServer(t, t.TempDir(), "")
	_, err := assentsync.Enrol(t.Context(), nil, ts.url(), "wrong-code", "x", make([]byte, 32), "age1devicerecipient00000000000000000000000000000000000000")
	var pe *assentsync.ProblemError
	if !errors.As(err, &pe) || pe.Status != 403 || pe.Detail == "" {
		t.Fatalf("bad code: %v", err)
	}
}

func TestBackoffGrowsWithJitterAndCap(t *testing.T) {
	lo, hi := 100*time.Millisecond, 2*time.Second
	for n := 1; n <= 12; n++ {
		ceil := lo << (n - 1)
		if ceil > hi || n > 6 {
			ceil = hi
		}
		var seen = map[time.Duration]bool{}
		for i := 0; i < 50; i++ {
			d := assentsync.Backoff(n, lo, hi)
			if d < lo/2 || d > ceil {
				t.Fatalf("Backoff(%d) = %v outside [%v, %v]", n, d, lo/2, ceil)
			}
			seen[d] = true
		}
		if n > 2 && len(seen) < 10 {
			t.Fatalf("Backoff(%d) has no jitter", n)
		}
	}
}

func TestBandwidthCap(t *testing.T) {
	ts := startServer(t, t.TempDir(), "")
	token, key := ts.enrol(t)
	lib := newDirLibrary(t)
	call := newCall(t, lib, key, "rec-bw", 300<<10, "ann@example.com")
	call.seal()
	call.seal()
	call.stop()
	c := newClient(t, ts, token, lib, t.TempDir(), 400<<10) // 600 KiB at 400 KiB/s
	start := time.Now()
	if err := c.SyncOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 1300*time.Millisecond {
		t.Fatalf("600 KiB at a 400 KiB/s cap took only %v", el)
	}
	checkAllOnServer(t, ts, lib, "rec-bw", 2)
}

// TestDeleteMeansDelete_ErasureSticks: a recording erased on the server while
// the device was still uploading it is not uploaded again.
func TestDeleteMeansDelete_ErasureSticks(t *testing.T) {
	ts := startServer(t, t.TempDir(), "")
	token, key := ts.enrol(t)
	lib := newDirLibrary(t)
	call := newCall(t, lib, key, "rec-e", 3000, "ann@example.com")
	call.seal()
	c := newClient(t, ts, token, lib, t.TempDir(), 0)
	if err := c.SyncOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	if code, body := ts.admin("POST", "/v1/admin/subjects/erase", map[string]string{"email": "ann@example.com"}); code != 200 {
		t.Fatalf("erase: %d %s", code, body)
	}
	call.seal()
	call.stop()
	for i := 0; i < 2; i++ {
		if err := c.SyncOnce(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ts.st.Recording(context.Background(), "rec-e"); err == nil {
		t.Fatal("the erased recording came back")
	}
	if len(serverSegments(t, ts, "rec-e")) != 0 {
		t.Fatal("segments of the erased recording were uploaded again")
	}
	if snap := c.Snapshot(); snap[0].Phase != assentsync.PhaseErased || snap[0].Err == "" {
		t.Fatalf("progress: %+v", snap)
	}
}
