package sync_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	gosync "sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/assent-app/assent/consent"
	"github.com/assent-app/assent/internal/testenv"
	assentsync "github.com/assent-app/assent/sync"
	"github.com/assent-app/assent/sync/server"
)

// benchCluster is n replicas behind a balancer, with counters of what they
// ask of the S3 server and PostgreSQL.
type benchCluster struct {
	ts    *testServer
	procs []*assentdProc
	s3req atomic.Int64 // requests the replicas sent to the S3 server
	s3mu  gosync.Mutex
	s3by  map[string]int // by kind (method and S3 operation), for the log
	pg    *sql.DB        // the shared database, for its statistics
}

// pgStats is the database's committed transactions so far and the
// connections open to it now.
func (c *benchCluster) pgStats(b *testing.B) (xacts int64, conns int) {
	c.pg.Exec(`SELECT pg_stat_clear_snapshot()`)
	if err := c.pg.QueryRow(`SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()`).Scan(&xacts); err != nil {
		b.Fatal(err)
	}
	if err := c.pg.QueryRow(`SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database()`).Scan(&conns); err != nil {
		b.Fatal(err)
	}
	return xacts, conns
}

// newBenchCluster starts n real assentd processes (`assentd serve`, the binary
// built once) on one PostgreSQL schema and one S3 bucket of their own
// (objects and uploads in S3, upload locks in PostgreSQL), behind the
// round-robin balancer. It returns the balancer as a testServer (st: a store
// of its own on the same schema, for checking) and the processes.
func newBenchCluster(b *testing.B, bin string, n int) *benchCluster {
	b.Helper()
	c := &benchCluster{s3by: map[string]int{}}
	s3 := testenv.RequireS3(b)
	dsn, bucket, _ := schemaAndBucket(b, "b")
	pg, err := sql.Open("pgx", dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { pg.Close() })
	c.pg = pg
	// The replicas reach the S3 server through a counting proxy (the Host
	// header is kept: it is part of the SigV4 signature).
	target, err := url.Parse(s3.Endpoint)
	if err != nil {
		b.Fatal(err)
	}
	s3proxy := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		c.s3req.Add(1)
		c.s3mu.Lock()
		c.s3by[s3Kind(r.In)]++
		c.s3mu.Unlock()
		r.SetURL(target)
		r.Out.Host = r.In.Host
	}})
	b.Cleanup(s3proxy.Close)
	counted := s3
	counted.Endpoint = s3proxy.URL
	logDir := b.TempDir()
	var addrs []string
	for range n {
		p := startReplica(b, bin, dsn, bucket, counted, logDir)
		c.procs = append(c.procs, p)
		addrs = append(addrs, p.addr)
	}
	front := httptest.NewServer(newBalancer(addrs))
	b.Cleanup(front.Close)
	st, err := server.OpenPostgres(dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	c.ts = &testServer{t: b, addr: strings.TrimPrefix(front.URL, "http://"), st: st}
	if code, body := c.ts.admin("PUT", "/v1/admin/policy", server.PolicyRequest{NoticeID: consent.DefaultNoticeID, NoticeVersion: "1",
		Org: consent.OrgParams{Controller: "Acme", Contact: "privacy@acme.example"}}); code/100 != 2 {
		b.Fatalf("set the policy: %d %s", code, body)
	}
	return c
}

// s3Kind names the S3 operation of a request, roughly: method, what the
// key is (upload info, part buffer, recording object) and the sub-resource.
func s3Kind(r *http.Request) string {
	k := r.Method
	switch p := r.URL.Path; {
	case strings.HasSuffix(p, ".info"):
		k += " info"
	case strings.HasSuffix(p, ".part"):
		k += " .part"
	case strings.Contains(p, "/uploads/"):
		k += " upload"
	case strings.Contains(p, "/recordings/"):
		k += " recording"
	default:
		k += " bucket"
	}
	q := r.URL.Query()
	for _, sub := range []string{"uploads", "uploadId", "partNumber", "list-type", "delete"} {
		if q.Has(sub) {
			k += " ?" + sub
		}
	}
	if r.Header.Get("X-Amz-Copy-Source") != "" {
		k += " copy"
	}
	return k
}

// procCPU is the CPU time (user + system) process pid has used so far.
func procCPU(b *testing.B, pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	f := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+2:])) // fields from 3 (state) on
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ is 100 on Linux
}

var (
	benchBinOnce gosync.Once
	benchBin     string
)

// BenchmarkReplicaIngest is the ingest workload of issue 14: 200 devices
// (ASSENT_BENCH_DEVICES) each sync one 5-minute recording
// (ASSENT_BENCH_MINUTES) at the same time, to 1 and to 3 real assentd
// processes on PostgreSQL + S3 (versitygw) behind a round-robin balancer.
// A recording is what the recorder makes: a real consent session, 5 s
// segments sealed as age files (~15 KB: 24 kbit/s Opus) each bound to the
// record by a SegmentSealed event; the replicas run with
// -require-sealed-segments (the default), and every segment the server
// stored is checked against the device's SHA-256.
//
// Reported: MB/s and recordings/s stored, p99 request latency seen by the
// devices, the replicas' CPU seconds per stored MB (their own processes'
// utime+stime, from /proc at the start and getrusage at their exit; the
// balancer, the clients, PostgreSQL and versitygw are not counted), the
// peak RSS of the largest replica (getrusage maxrss), and what a segment
// costs the shared services: requests to the S3 server (counted by a proxy
// in front of it), committed PostgreSQL transactions (pg_stat_database),
// and the most connections PostgreSQL had open (sampled every 0.5 s).
func BenchmarkReplicaIngest(b *testing.B) {
	devices := 200
	if d, err := strconv.Atoi(os.Getenv("ASSENT_BENCH_DEVICES")); err == nil && d > 0 {
		devices = d
	}
	benchBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "assentd-bench")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(dir) })
		benchBin = filepath.Join(dir, "assentd")
		if err := os.Rename(buildAssentd(b), benchBin); err != nil {
			b.Fatal(err)
		}
	})
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("replicas=%d/devices=%d/minutes=%d", n, devices, benchMinutes()), func(b *testing.B) {
			for range b.N {
				replicaIngest(b, benchBin, n, devices, benchMinutes()*12, 15000)
			}
		})
	}
}

func replicaIngest(b *testing.B, bin string, replicas, devices, segs, segSize int) {
	b.StopTimer()
	cl := newBenchCluster(b, bin, replicas)
	ts, procs := cl.ts, cl.procs
	tt := &timingTransport{inner: &http.Transport{MaxIdleConnsPerHost: 64}}
	type dev struct {
		c   *assentsync.Client
		lib *dirLibrary
		id  string
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		b.Fatal(err)
	}
	ds := make([]dev, devices)
	var stored int64
	for d := range ds {
		token, key := ts.enrol(b)
		lib := newDirLibrary(b)
		rid := "rec-" + strconv.Itoa(d)
		call := newCall(b, lib, key, rid, segSize, "ann@example.com")
		call.sealTo = id.Recipient()
		for range segs {
			stored += int64(call.seal())
		}
		call.stop()
		c, err := assentsync.New(assentsync.Config{Server: ts.url(), Token: token, Library: lib, OutboxDir: b.TempDir(), HTTPClient: &http.Client{Transport: tt, Timeout: 5 * time.Minute}})
		if err != nil {
			b.Fatal(err)
		}
		ds[d] = dev{c: c, lib: lib, id: rid}
	}
	cpu0 := make([]time.Duration, len(procs))
	for i, p := range procs {
		cpu0[i] = procCPU(b, p.cmd.Process.Pid)
	}
	s3req0 := cl.s3req.Load()
	xact0, conns := cl.pgStats(b)
	sampling := make(chan struct{})
	sampled := make(chan int)
	go func() { // the most connections PostgreSQL had open during the run
		most := conns
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-sampling:
				sampled <- most
				return
			case <-t.C:
				var n int
				if cl.pg.QueryRow(`SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database()`).Scan(&n) == nil {
					most = max(most, n)
				}
			}
		}
	}()
	b.StartTimer()
	start := time.Now()
	var wg gosync.WaitGroup
	errs := make(chan error, devices)
	for _, d := range ds {
		wg.Go(func() {
			for attempt := range 20 {
				err := d.c.SyncOnce(context.Background())
				if err == nil {
					return
				}
				if attempt == 19 {
					errs <- err
				}
				time.Sleep(assentsync.Backoff(attempt+1, 50*time.Millisecond, 2*time.Second))
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	s3req := cl.s3req.Load() - s3req0
	cl.s3mu.Lock()
	b.Logf("S3 requests during setup and ingest, by kind: %v", cl.s3by)
	cl.s3mu.Unlock()
	close(sampling)
	pgPeak := <-sampled
	time.Sleep(time.Second) // PostgreSQL publishes its statistics within a second
	xact1, _ := cl.pgStats(b)
	// Stop the replicas (SIGTERM: graceful) to read their rusage.
	var cpu time.Duration
	var rss int64
	for i, p := range procs {
		p.cmd.Process.Signal(syscall.SIGTERM)
		p.cmd.Wait()
		ru := p.cmd.ProcessState.SysUsage().(*syscall.Rusage)
		cpu += time.Duration(ru.Utime.Nano()+ru.Stime.Nano()) - cpu0[i]
		rss = max(rss, ru.Maxrss) // KiB on Linux
	}
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	for _, d := range ds {
		got := serverSegments(b, ts, d.id)
		if len(got) != segs {
			b.Fatalf("%s: %d of %d segments on the server", d.id, len(got), segs)
		}
		for s := 1; s <= segs; s++ {
			if got[s] != fileSum(b, filepath.Join(d.lib.recDir(d.id), "seg-"+pad(s)+".age")) {
				b.Fatalf("%s segment %d not verified", d.id, s)
			}
		}
		if !d.lib.synced(d.id) {
			b.Fatalf("%s not finalised", d.id)
		}
	}
	mb := float64(stored) / 1e6
	sort.Slice(tt.d, func(i, j int) bool { return tt.d[i] < tt.d[j] })
	b.ReportMetric(mb/el.Seconds(), "MB/s")
	b.ReportMetric(float64(devices)/el.Seconds(), "recordings/s")
	b.ReportMetric(float64(tt.d[len(tt.d)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(cpu.Seconds()/mb, "server-cpu-s/MB")
	b.ReportMetric(float64(rss)/1024, "peak-rss-MB")
	b.ReportMetric(float64(s3req)/float64(devices*segs), "s3-req/segment")
	b.ReportMetric(float64(xact1-xact0)/float64(devices*segs), "pg-xact/segment")
	b.ReportMetric(float64(pgPeak), "pg-conns-peak")
	b.ReportMetric(float64(devices*segs), "segments-verified")
	b.ReportMetric(el.Seconds(), "s-total")
}
