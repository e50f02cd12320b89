package server

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	gosync "sync"
	"testing"
)

// guessAdmin sends wrong admin tokens through the cluster's proxy until the
// first 429 (at most limit+5 tries); it returns how many were answered 401.
// Half of them are sent 6 at a time, so replicas race for the last tries.
func guessAdmin(t *testing.T, c *cluster, limit int) int {
	t.Helper()
	tries := 0
	var mu gosync.Mutex
	got429 := false
	one := func() {
		resp, body := c.h.do("GET", "/v1/admin/audit", "wrong-token-guess-000000000", nil)
		mu.Lock()
		defer mu.Unlock()
		switch resp.StatusCode {
		case http.StatusUnauthorized:
			tries++
		case http.StatusTooManyRequests:
			got429 = true
		default:
			t.Errorf("a wrong admin token: %d %s", resp.StatusCode, body)
		}
	}
	for i := 0; i < limit/2; i++ {
		one()
	}
	for !got429 && tries <= limit+5 {
		var wg gosync.WaitGroup
		for range 6 {
			wg.Go(one)
		}
		wg.Wait()
	}
	if !got429 {
		t.Fatalf("no 429 after %d wrong admin tokens", tries)
	}
	return tries
}

// TestFailedAttemptsLimitedAcrossReplicas: a client guessing the admin token
// gets as many tries from three replicas on one PostgreSQL as from one
// replica (FailBurst in total, not per replica), then 429 with Retry-After
// on every replica: for the right token and an enrolment code too.
func TestFailedAttemptsLimitedAcrossReplicas(t *testing.T) {
	const burst = 10 // the default FailBurst
	one := guessAdmin(t, newCluster(t, 1), burst)
	c := newCluster(t, 3)
	three := guessAdmin(t, c, burst)
	if one != burst || three != one {
		t.Fatalf("wrong admin tokens answered before 429: %d with one replica, %d with three; want %d each", one, three, burst)
	}
	for i, rep := range c.replicas {
		for _, tok := range []string{"wrong-token-guess-000000000", testAdmin} {
			req, _ := http.NewRequest("GET", rep.URL+"/v1/admin/audit", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			ra, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
			if resp.StatusCode != http.StatusTooManyRequests || ra < 1 || ra > 7 {
				t.Fatalf("replica %d after the guesses: %d with Retry-After %q; want 429 and 1–7 s (one try per FailEvery, 6 s)",
					i, resp.StatusCode, resp.Header.Get("Retry-After"))
			}
		}
		resp, err := http.Post(rep.URL+"/v1/enrol", "application/json", strings.NewReader(
			`{"code":"guess","name":"x","signing_key":"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=","age_recipient":"age1devicerecipient000000000000000000000000000000000000"}`))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		wantProblem(t, resp, body, 429, "too-many-failures")
	}
	// Each failure before the limit was audited once, on whichever replica took it.
	var n int
	db, _, _ := SQLDB(c.h.st)
	if err := db.QueryRow(`SELECT COUNT(*) FROM audit WHERE action = 'admin.auth-failed'`).Scan(&n); err != nil || n != burst {
		t.Fatalf("audited failures: %d (%v), want %d", n, err, burst)
	}
}

// TestUploadQuotaHoldsAcrossReplicas: a device that starts uploads on three
// replicas at once gets exactly MaxUploadsPerDevice of them, not that many
// per replica (nor more through a race between the count and the creation):
// the rest get 429 quota-uploads; another device is not held back by it.
func TestUploadQuotaHoldsAcrossReplicas(t *testing.T) {
	const quota = 4
	c := newClusterCfg(t, 3, func(cfg *Config) { cfg.MaxUploadsPerDevice = quota })
	h := c.h
	d := h.enrol(1)
	rec := "rec-quota"
	resp, body := h.do("POST", "/v1/recordings", d.token, map[string]any{"id": rec, "record": json.RawMessage(makeRecord(t, d.key, rec, false, "ann@example.com"))})
	if resp.StatusCode != 201 {
		t.Fatalf("register: %d %s", resp.StatusCode, body)
	}
	var mu gosync.Mutex
	codes := map[int]int{}
	var wg gosync.WaitGroup
	for i := 1; i <= 12; i++ {
		wg.Go(func() {
			data := segData(rec, i)
			req, _ := http.NewRequest("POST", h.ts.URL+"/v1/uploads/", nil)
			req.Header.Set("Authorization", "Bearer "+d.token)
			req.Header.Set("Tus-Resumable", "1.0.0")
			req.Header.Set("Upload-Length", strconv.Itoa(len(data)))
			req.Header.Set("Upload-Metadata", meta(map[string]string{"recording": rec, "index": strconv.Itoa(i), "sha256": sum(data)}))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 429 && !strings.Contains(string(b), "quota-uploads") {
				t.Errorf("429 that is not the upload quota: %s", b)
			}
			mu.Lock()
			codes[resp.StatusCode]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if codes[201] != quota || codes[429] != 12-quota {
		t.Fatalf("12 uploads started at once on 3 replicas: %v; want %d created and %d refused with 429", codes, quota, 12-quota)
	}
	// The count is per device: another device's uploads start.
	d2 := h.enrol(2)
	rec2 := "rec-quota-2"
	resp, body = h.do("POST", "/v1/recordings", d2.token, map[string]any{"id": rec2, "record": json.RawMessage(makeRecord(t, d2.key, rec2, false, "bob@example.com"))})
	if resp.StatusCode != 201 {
		t.Fatalf("register: %d %s", resp.StatusCode, body)
	}
	h.uploadInParts(d2, rec2, 1, segData(rec2, 1), 3)
}
