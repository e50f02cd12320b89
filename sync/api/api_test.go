package api

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// What the server writes, a client parses back to the same problem.
func TestProblemRoundTrip(t *testing.T) {
	w := httptest.NewRecorder()
	NewProblem(422, SlugRecordNotExtension, "Consent record does not extend the stored one", "Send the newest record.").Write(w)
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q", ct)
	}
	p := ParseProblem(w.Code, w.Body.Bytes())
	if p.Status != 422 || p.Slug() != SlugRecordNotExtension || p.Detail != "Send the newest record." || p.Temporary() {
		t.Fatalf("parsed %+v", p)
	}
	if !strings.Contains(p.Error(), "Send the newest record.") {
		t.Fatalf("Error() = %q", p.Error())
	}
	// A proxy's plain-text answer keeps its first line and is temporary when it is 5xx.
	p = ParseProblem(502, []byte("Bad Gateway\nupstream down"))
	if p.Detail != "Bad Gateway" || !p.Temporary() {
		t.Fatalf("plain answer parsed as %+v", p)
	}
}

// FuzzParseProblem: any answer body parses without panicking, keeps the
// HTTP status and a detail of at most 300 bytes when it is not JSON.
func FuzzParseProblem(f *testing.F) {
	f.Add(500, []byte(`{"type":"tag:assent.app,2026:problem/internal","title":"x","status":500,"detail":"d"}`))
	f.Add(404, []byte("ERR_UPLOAD_NOT_FOUND: upload not found\n"))
	f.Add(400, []byte(`{"status":"nope"`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		p := ParseProblem(status, body)
		if p == nil || p.Status != status {
			t.Fatalf("status %d parsed as %+v", status, p)
		}
		_ = p.Error()
		_ = p.Slug()
		if len(body) > 0 && body[0] != '{' && len(p.Detail) > 300 {
			t.Fatalf("detail of %d bytes", len(p.Detail))
		}
	})
}
