package main

import (
	"bufio"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Behind the trusted proxy (-forwarded-headers) every rate limit counts the
// client the proxy saw, not the proxy: one client that used up the consent
// pages' per-address budget, or its failed admin tokens, leaves another
// client behind the same proxy unaffected.
func TestRateLimitsCountTheClientBehindTheProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := buildAssentd(t, dir)
	cmd := exec.Command(bin, "serve", "-data", filepath.Join(dir, "data"), "-addr", "127.0.0.1:0", "-forwarded-headers", "-drain-wait", "0s")
	cmd.Env = append(os.Environ(), "ASSENTD_ADMIN_TOKEN=forwarded-test-admin-token-0123456789")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "listening on http://") {
		t.Fatalf("assentd did not start: %q %v", line, err)
	}
	base := strings.TrimSpace(strings.TrimPrefix(line, "listening on "))
	get := func(path, client, token string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("X-Forwarded-For", client)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	page := "/c/" + strings.Repeat("x", 43) // no such link: 404 until the limit
	code := 0
	for i := 0; i < 80 && code != http.StatusTooManyRequests; i++ {
		code = get(page, "203.0.113.7", "")
	}
	if code != http.StatusTooManyRequests {
		t.Fatalf("80 page requests from one client: last %d, want 429", code)
	}
	if c := get(page, "203.0.113.8", ""); c == http.StatusTooManyRequests {
		t.Fatal("another client behind the same proxy got 429 from the first client's page requests")
	}
	code = 0
	for i := 0; i < 15 && code != http.StatusTooManyRequests; i++ {
		code = get("/v1/admin/devices", "198.51.100.1", "wrong-token-guess-0000000000")
	}
	if code != http.StatusTooManyRequests {
		t.Fatalf("15 wrong admin tokens from one client: last %d, want 429", code)
	}
	if c := get("/v1/admin/devices", "198.51.100.2", "forwarded-test-admin-token-0123456789"); c != http.StatusOK {
		t.Fatalf("the admin behind the same proxy: %d, want 200", c)
	}
}
