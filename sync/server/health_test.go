package server

import (
	"path/filepath"
	"testing"

	"github.com/assent-app/assent/internal/testenv"
)

// /healthz is liveness only; /readyz turns 503 with a clear reason when the
// replica drains or its object store refuses it.
func TestReadyzForTheLoadBalancer(t *testing.T) {
	h := newHarness(t)
	for _, p := range []string{"/healthz", "/readyz"} {
		if resp, body := h.do("GET", p, "", nil); resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", p, resp.StatusCode, body)
		}
	}
	h.srv.Drain()
	resp, body := h.do("GET", "/readyz", "", nil)
	wantProblem(t, resp, body, 503, "not-ready")
	if resp.Header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
	if resp, _ := h.do("GET", "/healthz", "", nil); resp.StatusCode != 200 {
		t.Fatal("a draining replica is still alive")
	}
}

func TestReadyzObjectStoreUnreachable(t *testing.T) {
	env := testenv.RequireS3(t)
	good := realS3(t)
	bad, err := NewS3Objects(S3Config{Endpoint: env.Endpoint, Bucket: good.bucket, AccessKey: env.AccessKey, SecretKey: "not-the-secret", PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	st, err := OpenSQLite(filepath.Join(t.TempDir(), "i.db"))
	if err != nil {
		t.Fatal(err)
	}
	h := newHarnessWithObjects(t, st, bad)
	resp, body := h.do("GET", "/readyz", "", nil)
	wantProblem(t, resp, body, 503, "not-ready")
	h2 := newHarnessWithObjects(t, mustSQLite(t), good)
	if resp, body := h2.do("GET", "/readyz", "", nil); resp.StatusCode != 200 {
		t.Fatalf("reachable bucket: %d %s", resp.StatusCode, body)
	}
}

func mustSQLite(t *testing.T) Store {
	st, err := OpenSQLite(filepath.Join(t.TempDir(), "i.db"))
	if err != nil {
		t.Fatal(err)
	}
	return st
}
