package sync

import (
	"os"
	"testing"
)

// FuzzParseProblem: any error body from a server gives a ProblemError with
// the HTTP status and a bounded, readable detail — never a panic.
func FuzzParseProblem(f *testing.F) {
	f.Add(422, []byte(`{"type":"tag:assent.app,2026:problem/record-invalid","title":"t","status":422,"detail":"d"}`))
	f.Add(500, []byte("ERR_INTERNAL: boom\nmore"))
	f.Add(404, []byte(`{"status":"x"}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		p := ParseProblem(status, body)
		if p.Status != status {
			t.Fatalf("status %d became %d", status, p.Status)
		}
		if p.Error() == "" {
			t.Fatal("empty error text")
		}
		_ = p.Slug()
		_ = p.Temporary()
	})
}

// FuzzOutboxState: a damaged or foreign outbox file never crashes the client;
// it falls back to a fresh state for the recording.
func FuzzOutboxState(f *testing.F) {
	f.Add("rec-1", []byte(`{"id":"rec-1","registered":"ab","uploads":{"3":{"id":"x","sha256":"y"}}}`))
	f.Add("rec-1", []byte(`{"id":"other"}`))
	f.Add("r", []byte(`{"uploads":{"a":1}}`))
	dir := f.TempDir()
	c := &Client{cfg: Config{OutboxDir: dir}}
	f.Fuzz(func(t *testing.T, id string, data []byte) {
		if id == "" || len(id) > 100 {
			return
		}
		if err := os.WriteFile(c.statePath(id), data, 0o600); err != nil {
			t.Fatal(err)
		}
		st := c.loadState(id)
		if st.ID != id || st.Uploads == nil || st.Hashes == nil {
			t.Fatalf("loadState gave %+v", st)
		}
		if err := c.saveState(st); err != nil {
			t.Fatal(err)
		}
		if again := c.loadState(id); again.ID != id || len(again.Uploads) != len(st.Uploads) {
			t.Fatalf("state did not round-trip: %+v vs %+v", again, st)
		}
	})
}
