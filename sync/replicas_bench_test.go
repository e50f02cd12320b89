package sync_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	gosync "sync"
	"syscall"
	"testing"
	"time"

	"github.com/assent-app/assent/internal/testenv"
	assentsync "github.com/assent-app/assent/sync"
	"github.com/assent-app/assent/sync/server"
)

// benchCluster starts n in-process assentd replicas on one PostgreSQL schema
// and one S3 bucket of their own (objects and uploads in S3, upload locks in
// PostgreSQL), behind the round-robin balancer; it returns the balancer as a
// testServer (st: replica 0's store, for checking).
func benchCluster(b *testing.B, n int) *testServer {
	b.Helper()
	pgDSN := testenv.RequirePostgres(b)
	s3 := testenv.RequireS3(b)
	rb := make([]byte, 5)
	rand.Read(rb)
	name := "b" + hex.EncodeToString(rb)
	admin, err := sql.Open("pgx", pgDSN)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := admin.Exec(`CREATE SCHEMA ` + name); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { admin.Exec(`DROP SCHEMA ` + name + ` CASCADE`); admin.Close() })
	sep := "?"
	if strings.Contains(pgDSN, "?") {
		sep = "&"
	}
	dsn := pgDSN + sep + "search_path=" + name
	s3cfg := server.S3Config{Endpoint: s3.Endpoint, Bucket: "assent-" + name, AccessKey: s3.AccessKey, SecretKey: s3.SecretKey, PathStyle: true}
	objs, err := server.NewS3Objects(s3cfg)
	if err != nil {
		b.Fatal(err)
	}
	if err := objs.EnsureBucket(b.Context(), "us-east-1"); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { objs.DeletePrefix(context.Background(), "") })
	var addrs []string
	var first server.Store
	for i := range n {
		st, err := server.OpenPostgres(dsn)
		if err != nil {
			b.Fatal(err)
		}
		locker, err := server.NewPGUploadLocker(dsn, 32)
		if err != nil {
			b.Fatal(err)
		}
		srv, err := server.New(server.Config{Store: st, Objects: objs, UploadDir: filepath.Join(b.TempDir(), "uploads"),
			Uploads: server.UploadStore{S3: &s3cfg, Locker: locker}, AdminToken: adminToken, SubjectSalt: []byte("sync-test-salt-0123456789")})
		if err != nil {
			b.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		hs := &http.Server{Handler: srv.Handler()}
		go hs.Serve(ln)
		b.Cleanup(func() { hs.Close(); st.Close(); locker.Close() })
		addrs = append(addrs, ln.Addr().String())
		if i == 0 {
			first = st
		}
	}
	front := httptest.NewServer(newBalancer(addrs))
	b.Cleanup(front.Close)
	return &testServer{t: b, addr: strings.TrimPrefix(front.URL, "http://"), st: first}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkReplicaIngest: 200 devices (ASSENT_BENCH_DEVICES) each sync one
// 5-minute recording (ASSENT_BENCH_MINUTES; 5 s segments of ~15 KB) at the
// same time to 1 and to 3 replicas on PostgreSQL + S3 (versitygw) behind a
// round-robin balancer; every segment is verified against its local SHA-256.
// Reports MB/s, p99 request latency and the CPU seconds of this process
// (replicas, balancer and clients; PostgreSQL and versitygw run in their own
// processes and are not counted) per stored MB.
func BenchmarkReplicaIngest(b *testing.B) {
	devices := 200
	if d, err := strconv.Atoi(os.Getenv("ASSENT_BENCH_DEVICES")); err == nil && d > 0 {
		devices = d
	}
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("replicas=%d/devices=%d", n, devices), func(b *testing.B) {
			for range b.N {
				replicaIngest(b, n, devices, benchMinutes()*12, 15000)
			}
		})
	}
}

func replicaIngest(b *testing.B, replicas, devices, segs, segSize int) {
	b.StopTimer()
	ts := benchCluster(b, replicas)
	tt := &timingTransport{inner: &http.Transport{MaxIdleConnsPerHost: 64}}
	type dev struct {
		c   *assentsync.Client
		lib *dirLibrary
		id  string
	}
	ds := make([]dev, devices)
	for d := range ds {
		token, key := ts.enrol(b)
		lib := newDirLibrary(b)
		id := "rec-" + strconv.Itoa(d)
		call := newCall(b, lib, key, id, segSize, "ann@example.com")
		for range segs {
			call.seal()
		}
		call.stop()
		c, err := assentsync.New(assentsync.Config{Server: ts.url(), Token: token, Library: lib, OutboxDir: b.TempDir(), HTTPClient: &http.Client{Transport: tt, Timeout: 5 * time.Minute}})
		if err != nil {
			b.Fatal(err)
		}
		ds[d] = dev{c: c, lib: lib, id: id}
	}
	b.StartTimer()
	cpu0, start := cpuTime(), time.Now()
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
	el, cpu := time.Since(start), cpuTime()-cpu0
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	var sent int64
	for _, d := range ds {
		sent += d.c.BytesSent()
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
	stored := float64(devices*segs*segSize) / 1e6
	sort.Slice(tt.d, func(i, j int) bool { return tt.d[i] < tt.d[j] })
	b.ReportMetric(float64(sent)/1e6/el.Seconds(), "MB/s")
	b.ReportMetric(float64(tt.d[len(tt.d)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(cpu.Seconds()/stored, "cpu-s/MB")
	b.ReportMetric(float64(devices*segs), "segments-verified")
	b.ReportMetric(el.Seconds(), "s-total")
}
