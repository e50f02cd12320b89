package sync_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"strings"
	gosync "sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/assent-app/assent/consent"
	"github.com/assent-app/assent/internal/testenv"
	assentsync "github.com/assent-app/assent/sync"
	"github.com/assent-app/assent/sync/server"
	_ "github.com/jackc/pgx/v5/stdlib"
)

// balancer is a round-robin load balancer over replicas; a replica that
// refuses connections is taken out of the pool (as a health check would)
// and the request that met it gets 502, which clients retry.
type balancer struct {
	backends []*url.URL
	alive    []atomic.Bool
	next     atomic.Int64
	proxies  []*httputil.ReverseProxy
}

func newBalancer(addrs []string) *balancer {
	b := &balancer{alive: make([]atomic.Bool, len(addrs))}
	for i, a := range addrs {
		u, _ := url.Parse("http://" + a)
		b.backends = append(b.backends, u)
		b.alive[i].Store(true)
		b.proxies = append(b.proxies, &httputil.ReverseProxy{
			Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(u); r.Out.Host = r.In.Host },
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || strings.Contains(err.Error(), "EOF") {
					b.alive[i].Store(false)
				}
				w.WriteHeader(http.StatusBadGateway)
			},
		})
	}
	return b
}

func (b *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for range len(b.backends) {
		i := int(b.next.Add(1)-1) % len(b.backends)
		if b.alive[i].Load() {
			b.proxies[i].ServeHTTP(w, r)
			return
		}
	}
	w.WriteHeader(http.StatusServiceUnavailable)
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu gosync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// startReplica runs `assentd serve` on the shared PostgreSQL and S3 bucket.
func startReplica(t testing.TB, bin, dsn, bucket string, s3 testenv.S3, logDir string) *assentdProc {
	t.Helper()
	return startReplicaAt(t, bin, dsn, bucket, s3, logDir, "127.0.0.1:0", "0s")
}

// startReplicaAt runs `assentd serve` on addr (port 0: any free one) with
// -drain-wait drain.
func startReplicaAt(t testing.TB, bin, dsn, bucket string, s3 testenv.S3, logDir, addr, drain string) *assentdProc {
	t.Helper()
	cmd := exec.Command(bin, "serve", "-data", t.TempDir(), "-addr", addr, "-db", dsn,
		"-s3-endpoint", s3.Endpoint, "-s3-bucket", bucket, "-drain-wait", drain)
	cmd.Env = append(os.Environ(), "ASSENTD_ADMIN_TOKEN="+adminToken, "ASSENTD_SUBJECT_SALT=replica-test-salt-0123456789",
		"ASSENTD_S3_ACCESS_KEY="+s3.AccessKey, "ASSENTD_S3_SECRET_KEY="+s3.SecretKey,
		// Every replica signs and opens the organisation's policy with the same key.
		"ASSENTD_POLICY_KEY="+base64.StdEncoding.EncodeToString(testPolicyKey.Seed()))
	out, _ := cmd.StdoutPipe()
	logf, err := os.Create(fmt.Sprintf("%s/replica-%d.log", logDir, time.Now().UnixNano()))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "listening on http://") {
		cmd.Process.Kill()
		t.Fatalf("replica did not start: %q %v", line, err)
	}
	p := &assentdProc{cmd: cmd, addr: strings.TrimSpace(strings.TrimPrefix(line, "listening on http://"))}
	t.Cleanup(func() { p.cmd.Process.Kill(); p.cmd.Wait() })
	return p
}

// TestNothingLostOnCrash_KillOneReplica: three real assentd processes on one
// PostgreSQL and one S3-compatible server behind a round-robin balancer; 20
// devices sync at once; one replica is killed with SIGKILL in the middle.
// Every device finishes through the others, every segment is stored once
// and intact, and no device re-sends more than one segment.
func TestNothingLostOnCrash_KillOneReplica(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the assentd binary")
	}
	s3 := testenv.RequireS3(t)
	// A schema and a bucket of this test's own.
	dsn, bucket, objs := schemaAndBucket(t, "k")

	bin := buildAssentd(t)
	logDir := os.Getenv("ASSENT_REPLICA_LOGS")
	if logDir == "" {
		logDir = t.TempDir()
	}
	var clientLog syncBuffer
	var reps []*assentdProc
	var addrs []string
	for range 3 {
		p := startReplica(t, bin, dsn, bucket, s3, logDir)
		reps = append(reps, p)
		addrs = append(addrs, p.addr)
	}
	lb := newBalancer(addrs)
	front := httptest.NewServer(lb)
	defer front.Close()
	ts := &testServer{t: t, addr: strings.TrimPrefix(front.URL, "http://")}
	// The organisation's policy (the notice newCall uses), set once by the
	// administrator through the cluster.
	if code, body := ts.admin("PUT", "/v1/admin/policy", server.PolicyRequest{NoticeID: consent.DefaultNoticeID, NoticeVersion: "1",
		Org: consent.OrgParams{Controller: "Acme", Contact: "privacy@acme.example"}}); code/100 != 2 {
		t.Fatalf("set the policy: %d %s", code, body)
	}

	const devices, segSize, n = 20, 48 << 10, 5
	type device struct {
		c   *assentsync.Client
		lib *dirLibrary
		id  string
	}
	var devs []device
	for i := range devices {
		token, key := ts.enrol(t)
		lib := newDirLibrary(t)
		id := fmt.Sprintf("rec-%02d", i)
		call := newCall(t, lib, key, id, segSize, fmt.Sprintf("p%02d@example.com", i))
		for range n {
			call.seal()
		}
		call.stop()
		c, err := assentsync.New(assentsync.Config{Server: ts.url(), Token: token, Library: lib, OutboxDir: t.TempDir(), BandwidthLimit: 128 << 10,
			HTTPClient: &http.Client{Timeout: 30 * time.Second}, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, PollInterval: 50 * time.Millisecond,
			Logger: slog.New(slog.NewTextHandler(&clientLog, nil)).With("device", id)})
		if err != nil {
			t.Fatal(err)
		}
		devs = append(devs, device{c: c, lib: lib, id: id})
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	var wg gosync.WaitGroup
	for _, d := range devs {
		wg.Go(func() { d.c.Run(ctx) })
	}
	sent := func() (s int64) {
		for _, d := range devs {
			s += d.c.BytesSent()
		}
		return s
	}
	waitFor(t, 60*time.Second, "a third of all bytes sent", func() bool { return sent() > devices*n*segSize/3 })
	reps[1].cmd.Process.Signal(syscall.SIGKILL)
	reps[1].cmd.Wait()
	t.Logf("killed replica 1 after %d of %d bytes", sent(), devices*n*segSize)
	allSynced := func() bool {
		for _, d := range devs {
			if !d.lib.synced(d.id) {
				return false
			}
		}
		return true
	}
	for end := time.Now().Add(90 * time.Second); !allSynced() && time.Now().Before(end); {
		time.Sleep(20 * time.Millisecond)
	}
	if !allSynced() {
		for _, d := range devs {
			if !d.lib.synced(d.id) {
				t.Errorf("%s not synced: %d bytes sent", d.id, d.c.BytesSent())
			}
		}
		l := clientLog.String()
		t.Fatalf("not every device synced through the remaining replicas; client log tail:\n%s", l[max(0, len(l)-6000):])
	}
	cancel()
	wg.Wait()

	// The server's state, read with the store and the bucket themselves.
	st, err := server.OpenPostgres(dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	most := int64(0)
	for _, d := range devs {
		segs, err := st.Segments(context.Background(), d.id)
		if err != nil || len(segs) != n {
			t.Fatalf("%s: %d segments stored (%v), want %d", d.id, len(segs), err, n)
		}
		for _, s := range segs {
			local := fileSum(t, d.lib.recDir(d.id)+"/seg-"+pad(s.Index)+".age")
			rc, err := objs.Get(context.Background(), fmt.Sprintf("recordings/%s/seg-%s.age", d.id, pad(s.Index)))
			if err != nil {
				t.Fatalf("%s segment %d: %v", d.id, s.Index, err)
			}
			h := sha256.New()
			bufio.NewReader(rc).WriteTo(h)
			rc.Close()
			if s.SHA256 != local || hex.EncodeToString(h.Sum(nil)) != local {
				t.Fatalf("%s segment %d not intact after kill -9", d.id, s.Index)
			}
		}
		over := d.c.BytesSent() - n*segSize
		most = max(most, over)
		if over > segSize {
			t.Fatalf("%s re-sent %d bytes, more than one segment (%d)", d.id, over, segSize)
		}
	}
	t.Logf("kill -9 of one of 3 replicas under %d devices: at most %d bytes re-sent by one device (one segment = %d)", devices, most, segSize)
}
