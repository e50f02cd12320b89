package server

import (
	"bytes"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func (h *harness) tusReq(method, url, token string, hdr map[string]string, body []byte) (*http.Response, []byte) {
	h.t.Helper()
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, b
}

// tusd's own refusals are problem+json like every other error, 412 names
// the version, and creation-defer-length is not advertised (it is refused).
func TestBadInputGetsClearError_TusErrorsAreProblems(t *testing.T) {
	h := newHarness(t)
	d := h.enrol(1)
	h.fullRecordingRegisterOnly(d, "rec-t")
	data := segData("rec-t", 1)
	resp, body := h.tusReq("POST", h.ts.URL+"/v1/uploads/", d.token, map[string]string{"Tus-Resumable": "1.0.0",
		"Upload-Length": strconv.Itoa(len(data)), "Upload-Metadata": meta(map[string]string{"recording": "rec-t", "index": "1", "sha256": sum(data)})}, nil)
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	loc := resp.Header.Get("Location")
	patch := map[string]string{"Tus-Resumable": "1.0.0", "Content-Type": "application/offset+octet-stream"}

	patch["Upload-Offset"] = "7" // the server holds 0
	resp, body = h.tusReq("PATCH", loc, d.token, patch, data[:10])
	wantProblem(t, resp, body, 409, "mismatched-offset")

	resp, body = h.tusReq("PATCH", loc, d.token, map[string]string{"Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"}, data[:10])
	wantProblem(t, resp, body, 412, "unsupported-version")
	if resp.Header.Get("Tus-Version") != "1.0.0" {
		t.Fatalf("412 without Tus-Version: %v", resp.Header)
	}

	patch["Upload-Offset"] = "0"
	patch["Content-Type"] = "text/plain"
	resp, body = h.tusReq("PATCH", loc, d.token, patch, data[:10])
	wantProblem(t, resp, body, 400, "invalid-content-type")

	resp, body = h.tusReq("POST", h.ts.URL+"/v1/uploads/", d.token, map[string]string{"Tus-Resumable": "1.0.0",
		"Upload-Length": strconv.Itoa(128 << 20), "Upload-Metadata": meta(map[string]string{"recording": "rec-t", "index": "2", "sha256": sum(data)})}, nil)
	wantProblem(t, resp, body, 413, "max-size-exceeded")

	resp, _ = h.tusReq("OPTIONS", h.ts.URL+"/v1/uploads/", d.token, map[string]string{"Tus-Resumable": "1.0.0"}, nil)
	if strings.Contains(resp.Header.Get("Tus-Extension"), "creation-defer-length") {
		t.Fatalf("creation-defer-length advertised but refused: %q", resp.Header.Get("Tus-Extension"))
	}
}

// A wrong method on an API route is 405 with Allow; a JSON body over the
// limit is 413.
func TestBadInputGetsClearError_MethodAndSize(t *testing.T) {
	h := newHarness(t)
	d := h.enrol(1)
	resp, body := h.do("PATCH", "/v1/recordings", d.token, nil)
	wantProblem(t, resp, body, 405, "method-not-allowed")
	if a := resp.Header.Get("Allow"); !strings.Contains(a, "GET") || !strings.Contains(a, "POST") {
		t.Fatalf("Allow %q", a)
	}
	resp, body = h.do("POST", "/v1/admin/audit", testAdmin, nil)
	wantProblem(t, resp, body, 405, "method-not-allowed")
	resp, body = h.do("GET", "/v1/nothing-here", d.token, nil)
	wantProblem(t, resp, body, 404, "not-found")

	big := `{"id":"x","record":"` + strings.Repeat("a", 9<<20) + `"}`
	resp, body = h.do("POST", "/v1/recordings", d.token, big)
	wantProblem(t, resp, body, 413, "too-large")
}

// Behind a TLS-terminating proxy the upload URL is the public one.
func TestUploadURLBehindProxy(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*Config)
		hdr  map[string]string
		want string
	}{
		{"public URL", func(c *Config) { c.PublicURL = "https://sync.example.org/" }, nil, "https://sync.example.org/v1/uploads/"},
		{"forwarded headers", func(c *Config) { c.ForwardedHeaders = true }, map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "sync.example.org"}, "https://sync.example.org/v1/uploads/"},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, err := OpenSQLite(filepath.Join(t.TempDir(), "index.db"))
			if err != nil {
				t.Fatal(err)
			}
			h := newHarnessCfg(t, st, nil, c.edit)
			d := h.enrol(1)
			h.fullRecordingRegisterOnly(d, "rec-p")
			data := segData("rec-p", 1)
			hdr := map[string]string{"Tus-Resumable": "1.0.0", "Upload-Length": strconv.Itoa(len(data)),
				"Upload-Metadata": meta(map[string]string{"recording": "rec-p", "index": "1", "sha256": sum(data)})}
			for k, v := range c.hdr {
				hdr[k] = v
			}
			resp, body := h.tusReq("POST", h.ts.URL+"/v1/uploads/", d.token, hdr, nil)
			if resp.StatusCode != 201 || !strings.HasPrefix(resp.Header.Get("Location"), c.want) {
				t.Fatalf("create: %d %s, Location %q, want prefix %q", resp.StatusCode, body, resp.Header.Get("Location"), c.want)
			}
		})
	}
}
