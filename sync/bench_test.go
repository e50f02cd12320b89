package sync_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	gosync "sync"
	"testing"
	"time"

	assentsync "github.com/assent-app/assent/sync"
)

// timingTransport records the duration of every request.
type timingTransport struct {
	inner http.RoundTripper
	mu    gosync.Mutex
	d     []time.Duration
}

func (t *timingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.inner.RoundTrip(r)
	t.mu.Lock()
	t.d = append(t.d, time.Since(start))
	t.mu.Unlock()
	return resp, err
}

// benchMinutes is the recording length per device (ASSENT_BENCH_MINUTES,
// default 5; 60 is an hour: 720 segments of 15 KB per device).
func benchMinutes() int {
	if m, err := strconv.Atoi(os.Getenv("ASSENT_BENCH_MINUTES")); err == nil && m > 0 {
		return m
	}
	return 5
}

// BenchmarkConcurrentDevices: N devices sync one recording each, at the same
// time, to one assentd (SQLite + local objects) over loopback. Segments are
// 5 s of 24 kbit/s Opus in age (~15 KB). Reports MB/s, p99 request latency
// and checks every segment on the server against its local SHA-256.
func BenchmarkConcurrentDevices(b *testing.B) {
	for _, n := range []int{50, 200} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) { benchDevices(b, n, benchMinutes()*12, 15000) })
	}
}

func benchDevices(b *testing.B, devices, segs, segSize int) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		ts := startServer(b, b.TempDir(), "")
		tt := &timingTransport{inner: &http.Transport{MaxIdleConnsPerHost: 4}}
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
			for s := 0; s < segs; s++ {
				call.seal()
			}
			call.stop()
			c, err := assentsync.New(assentsync.Config{Server: ts.url(), Token: token, Library: lib, OutboxDir: b.TempDir(), HTTPClient: &http.Client{Transport: tt, Timeout: 5 * time.Minute}})
			if err != nil {
				b.Fatal(err)
			}
			ds[d] = dev{c: c, lib: lib, id: id}
			_ = ed25519.PublicKey(nil)
		}
		b.StartTimer()
		start := time.Now()
		var wg gosync.WaitGroup
		errs := make(chan error, devices)
		for _, d := range ds {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for attempt := 0; attempt < 20; attempt++ {
					if err := d.c.SyncOnce(context.Background()); err == nil {
						return
					} else if attempt == 19 {
						errs <- err
					}
					time.Sleep(assentsync.Backoff(attempt+1, 50*time.Millisecond, 2*time.Second))
				}
			}()
		}
		wg.Wait()
		el := time.Since(start)
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
		sort.Slice(tt.d, func(i, j int) bool { return tt.d[i] < tt.d[j] })
		p99 := tt.d[len(tt.d)*99/100]
		b.ReportMetric(float64(sent)/1e6/el.Seconds(), "MB/s")
		b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(len(tt.d)), "requests")
		b.ReportMetric(float64(devices*segs), "segments-verified")
		b.ReportMetric(el.Seconds(), "s-total")
		ts.stop()
	}
}
