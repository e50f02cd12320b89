package server

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

var buckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

type hist struct {
	counts []uint64
	sum    float64
	n      uint64
}

// metrics is a small hand-written Prometheus text exposition.
type metrics struct {
	mu       sync.Mutex
	requests map[string]uint64 // route|method|code
	latency  map[string]*hist  // route|method

	segmentsStored   atomic.Int64
	segmentsRejected atomic.Int64
	bytesStored      atomic.Int64
	recordRejected   atomic.Int64
}

func newMetrics() *metrics {
	return &metrics{requests: map[string]uint64{}, latency: map[string]*hist{}}
}

func (m *metrics) observe(route, method string, code int, d time.Duration) {
	method = methodLabel(method)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[fmt.Sprintf("%s|%s|%d", route, method, code)]++
	k := route + "|" + method
	h := m.latency[k]
	if h == nil {
		h = &hist{counts: make([]uint64, len(buckets))}
		m.latency[k] = h
	}
	sec := d.Seconds()
	for i, b := range buckets {
		if sec <= b {
			h.counts[i]++
		}
	}
	h.sum += sec
	h.n++
}

func esc(s string) string { return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) }

func (m *metrics) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	m.mu.Lock()
	defer m.mu.Unlock()
	fmt.Fprintln(w, "# HELP assentd_requests_total HTTP requests by route, method and status.")
	fmt.Fprintln(w, "# TYPE assentd_requests_total counter")
	keys := make([]string, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := strings.SplitN(k, "|", 3)
		fmt.Fprintf(w, "assentd_requests_total{route=\"%s\",method=\"%s\",code=\"%s\"} %d\n", esc(p[0]), esc(p[1]), p[2], m.requests[k])
	}
	fmt.Fprintln(w, "# HELP assentd_request_duration_seconds HTTP request latency.")
	fmt.Fprintln(w, "# TYPE assentd_request_duration_seconds histogram")
	keys = keys[:0]
	for k := range m.latency {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := strings.SplitN(k, "|", 2)
		h := m.latency[k]
		lbl := fmt.Sprintf("route=\"%s\",method=\"%s\"", esc(p[0]), esc(p[1]))
		for i, b := range buckets {
			fmt.Fprintf(w, "assentd_request_duration_seconds_bucket{%s,le=\"%g\"} %d\n", lbl, b, h.counts[i])
		}
		fmt.Fprintf(w, "assentd_request_duration_seconds_bucket{%s,le=\"+Inf\"} %d\n", lbl, h.n)
		fmt.Fprintf(w, "assentd_request_duration_seconds_sum{%s} %g\n", lbl, h.sum)
		fmt.Fprintf(w, "assentd_request_duration_seconds_count{%s} %d\n", lbl, h.n)
	}
	for _, c := range []struct {
		name, help string
		v          int64
	}{
		{"assentd_segments_stored_total", "Segments verified and stored.", m.segmentsStored.Load()},
		{"assentd_segments_rejected_total", "Segments refused for a checksum mismatch.", m.segmentsRejected.Load()},
		{"assentd_segment_bytes_stored_total", "Ciphertext bytes stored.", m.bytesStored.Load()},
		{"assentd_records_rejected_total", "Consent records that did not verify.", m.recordRejected.Load()},
	} {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", c.name, c.help, c.name, c.name, c.v)
	}
}

// methodLabel bounds the method label: a client can send any token as the
// method, and each distinct one would add series to /metrics for ever.
func methodLabel(m string) string {
	switch m {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS":
		return m
	}
	return "OTHER"
}
