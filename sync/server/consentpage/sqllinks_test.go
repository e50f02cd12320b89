package consentpage

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assent-app/assent/internal/testenv"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"
)

// linkDB opens a database with the link tables: SQLite in a file, or a
// schema of its own on the real PostgreSQL. open gives each replica its
// own connection pool, as separate processes would have.
type linkDB struct {
	pg   bool
	open func(t *testing.T) *sql.DB
}

func sqliteLinkDB(t *testing.T) linkDB {
	p := filepath.Join(t.TempDir(), "links.db")
	open := func(t *testing.T) *sql.DB {
		db, err := sql.Open("sqlite", "file:"+p+"?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	db := open(t)
	for _, q := range Schema(false) {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	return linkDB{open: open}
}

func pgLinkDB(t *testing.T) linkDB {
	dsn, _ := testenv.PostgresSchema(t, "cl_")
	open := func(t *testing.T) *sql.DB {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	db := open(t)
	for _, q := range Schema(true) {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	return linkDB{pg: true, open: open}
}

// replica is one assentd's consent pages on the shared database, with its
// LISTEN running.
func (d linkDB) replica(t *testing.T, mod func(*Config)) *env {
	t.Helper()
	links := NewSQLLinks(d.open(t), d.pg, nil)
	e := newEnv(t, func(c *Config) {
		c.Links = links
		if mod != nil {
			mod(c)
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.h.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	if d.pg {
		select {
		case <-links.Listening():
		case <-time.After(10 * time.Second):
			t.Fatal("LISTEN did not start")
		}
	}
	return e
}

// stream opens a device event stream and delivers its events on a channel.
func stream(t *testing.T, e *env, id, last string) <-chan sse {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/v1/consent-links/"+id+"/events", nil)
	req.Header.Set("Authorization", "Bearer dev-a-token")
	if last != "" {
		req.Header.Set("Last-Event-ID", last)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("events on this replica: %d", resp.StatusCode)
	}
	out := make(chan sse, 16)
	go func() {
		defer resp.Body.Close()
		defer close(out)
		var cur sse
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if cur.typ != "" {
					out <- cur
				}
				cur = sse{}
			case strings.HasPrefix(line, "id: "):
				cur.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				cur.typ = line[7:]
			case strings.HasPrefix(line, "data: "):
				cur.data = line[6:]
			}
		}
	}()
	return out
}

func next(t *testing.T, c <-chan sse, within time.Duration) sse {
	t.Helper()
	select {
	case ev, ok := <-c:
		if !ok {
			t.Fatal("the event stream ended")
		}
		return ev
	case <-time.After(within):
		t.Fatalf("no event within %v", within)
	}
	return sse{}
}

// A participant answering on replica A reaches the device streaming from
// replica B (PostgreSQL LISTEN/NOTIFY), and a withdrawal on B reaches a
// stream on A.
func TestConsentAnswerCrossesReplicas(t *testing.T) {
	d := pgLinkDB(t)
	// Keep-alives only every minute: a wake-up in time can only come from NOTIFY.
	slow := func(c *Config) { c.Heartbeat = time.Minute }
	a, b := d.replica(t, slow), d.replica(t, slow)
	lr := a.create(a.request([]Slot{{Ref: "bob", Name: "Bob", Lang: "en"}}, 0))
	p := path(t, lr.Slots[0].URL)
	onB := stream(t, b, lr.ID, "")
	time.Sleep(50 * time.Millisecond) // let B's stream start waiting
	start := time.Now()
	wantStatus(t, a.post(p, url.Values{"decision": {"given"}, "age": {"yes"}, "lang": {"en"}}), http.StatusSeeOther)
	ev := next(t, onB, 10*time.Second)
	took := time.Since(start)
	var ans Answer
	if err := json.Unmarshal([]byte(ev.data), &ans); err != nil || ev.typ != "answer" || ans.Decision != Given || ans.Ref != "bob" || ev.id != "1" {
		t.Fatalf("stream on B got %+v (%v)", ev, err)
	}
	t.Logf("answer on replica A reached the stream on replica B in %v", took)
	if took > 5*time.Second {
		t.Fatalf("cross-replica delivery took %v; LISTEN/NOTIFY should make it well under a second", took)
	}
	onA := stream(t, a, lr.ID, "1")
	wantStatus(t, b.post(p, url.Values{"decision": {"withdrawn"}, "lang": {"en"}}), http.StatusSeeOther)
	if ev := next(t, onA, 10*time.Second); ev.typ != "answer" || ev.id != "2" || !strings.Contains(ev.data, `"withdrawn"`) {
		t.Fatalf("withdrawal on B, stream on A: %+v", ev)
	}
	if ev := next(t, onB, 10*time.Second); ev.id != "2" {
		t.Fatalf("withdrawal on B, stream on B: %+v", ev)
	}
	// Closing through B ends both streams.
	wantStatus(t, b.do("DELETE", "/v1/consent-links/"+lr.ID, "dev-a-token", nil), http.StatusNoContent)
	for _, c := range []<-chan sse{onA, onB} {
		if ev := next(t, c, 10*time.Second); ev.typ != "end" || !strings.Contains(ev.data, "closed") {
			t.Fatalf("after close: %+v", ev)
		}
	}
}

// TestNothingLostOnCrashConsentLink: every replica restarts during a call;
// the open link and the answers already given survive, and the device
// resumes its stream where it was.
func TestNothingLostOnCrashConsentLink(t *testing.T) {
	for _, c := range []struct {
		name string
		db   func(*testing.T) linkDB
	}{{"SQLite", sqliteLinkDB}, {"PostgreSQL", pgLinkDB}} {
		t.Run(c.name, func(t *testing.T) {
			d := c.db(t)
			before := d.replica(t, nil)
			lr := before.create(before.request([]Slot{{Ref: "bob", Name: "Bob", Lang: "en"}, {Ref: "cy", Name: "Cy", Lang: "nl"}}, 1))
			wantStatus(t, before.post(path(t, lr.Slots[0].URL), url.Values{"decision": {"given"}, "age": {"yes"}, "lang": {"en"}}), http.StatusSeeOther)
			before.srv.Close() // the replica is gone

			after := d.replica(t, nil)
			evs := readStreamUntil(t, after, lr.ID, "", 1)
			if len(evs) != 1 || !strings.Contains(evs[0].data, `"bob"`) {
				t.Fatalf("answers after restart: %+v", evs)
			}
			// The links still work: Cy answers, a visitor claims the open slot.
			wantStatus(t, after.post(path(t, lr.Slots[1].URL), url.Values{"decision": {"refused"}, "lang": {"nl"}}), http.StatusSeeOther)
			resp := after.post(path(t, lr.CallURL), url.Values{"decision": {"given"}, "age": {"yes"}, "lang": {"en"}, "name": {"Dee"}})
			wantStatus(t, resp, http.StatusSeeOther)
			if got := body(t, after.do("GET", path(t, lr.Slots[0].URL), "", nil)); !strings.Contains(got, "Withdraw") {
				t.Fatal("Bob's page after restart does not offer withdrawal")
			}
			evs = readStreamUntil(t, after, lr.ID, "1", 2)
			if len(evs) != 2 || evs[0].id != "2" || evs[1].id != "3" || !strings.Contains(evs[1].data, `"Dee"`) {
				t.Fatalf("resumed stream: %+v", evs)
			}
		})
	}
}

func readStreamUntil(t *testing.T, e *env, id, last string, n int) []sse {
	t.Helper()
	c := stream(t, e, id, last)
	var out []sse
	for len(out) < n {
		out = append(out, next(t, c, 10*time.Second))
	}
	return out
}

// The per-device link quota and the server cap are counted in the
// database, so they hold across replicas; closing a link frees its place.
func TestDeviceLinkQuotaAcrossReplicas(t *testing.T) {
	d := pgLinkDB(t)
	lim := func(c *Config) { c.DeviceLinks, c.MaxLinks = 3, 5 }
	a, b := d.replica(t, lim), d.replica(t, lim)
	body, _ := json.Marshal(a.request([]Slot{{Ref: "bob", Name: "Bob", Lang: "en"}}, 0))
	create := func(e *env, token string) *http.Response {
		return e.do("POST", "/v1/consent-links", token, strings.NewReader(string(body)), "Content-Type", "application/json")
	}
	var ids []string
	for _, e := range []*env{a, b, a} {
		var lr LinkResponse
		json.Unmarshal([]byte(wantStatus(t, create(e, "dev-a-token"), http.StatusCreated)), &lr)
		ids = append(ids, lr.ID)
	}
	got := wantStatus(t, create(b, "dev-a-token"), http.StatusTooManyRequests)
	if !strings.Contains(got, "device-link-quota") || !strings.Contains(got, "Close the links") {
		t.Fatalf("quota answer: %s", got)
	}
	// Another device is not blocked by device a, until the server cap.
	wantStatus(t, create(a, "dev-b-token"), http.StatusCreated)
	wantStatus(t, create(b, "dev-b-token"), http.StatusCreated)
	if got := wantStatus(t, create(a, "dev-b-token"), http.StatusServiceUnavailable); !strings.Contains(got, "too-many-links") {
		t.Fatalf("server cap: %s", got)
	}
	wantStatus(t, b.do("DELETE", "/v1/consent-links/"+ids[0], "dev-a-token", nil), http.StatusNoContent)
	wantStatus(t, create(a, "dev-a-token"), http.StatusCreated)

	// The byte quota: a device may not store more than DeviceBytes of links.
	small := d.replica(t, func(c *Config) { c.DeviceBytes = int64(len(body)) * 3 / 2 })
	wantStatus(t, create(small, "dev-b-token"), http.StatusTooManyRequests)
}

// Graceful shutdown ends the event streams of the replica going away (so
// the device reconnects elsewhere) without losing an answer.
func TestShutdownEndsStreams(t *testing.T) {
	d := sqliteLinkDB(t)
	e := d.replica(t, nil)
	lr := e.create(e.request([]Slot{{Ref: "bob", Name: "Bob", Lang: "en"}}, 0))
	c := stream(t, e, lr.ID, "")
	time.Sleep(50 * time.Millisecond)
	e.h.Shutdown()
	select {
	case ev, ok := <-c:
		if ok {
			t.Fatalf("stream sent %+v instead of ending", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown did not end the stream")
	}
	wantStatus(t, e.post(path(t, lr.Slots[0].URL), url.Values{"decision": {"given"}, "age": {"yes"}, "lang": {"en"}}), http.StatusSeeOther)
	other := d.replica(t, nil)
	if evs := readStreamUntil(t, other, lr.ID, "", 1); evs[0].id != "1" {
		t.Fatalf("after reconnecting: %+v", evs)
	}
}

// The participant pages' rate limits hold across replicas: the buckets are
// in the database (keyed by a hash, never the address).
func TestPageRateLimitAcrossReplicas(t *testing.T) {
	d := pgLinkDB(t)
	lim := func(c *Config) { c.PerIP = Rate{Burst: 3, PerMinute: 1} }
	a, b := d.replica(t, lim), d.replica(t, lim)
	lr := a.create(a.request([]Slot{{Ref: "bob", Name: "Bob", Lang: "en"}}, 0))
	p := path(t, lr.Slots[0].URL)
	for i, e := range []*env{a, b, a} {
		if resp := e.do("GET", p, "", nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: %d", i+1, resp.StatusCode)
		}
	}
	resp := b.do("GET", p, "", nil)
	got := wantStatus(t, resp, http.StatusTooManyRequests)
	if resp.Header.Get("Retry-After") == "" || !strings.Contains(got, "Too many attempts") {
		t.Fatalf("4th request over two replicas: %s", got)
	}
	db := d.open(t)
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM consent_rate WHERE key LIKE '%127.0.0.1%'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("a rate bucket names the client address (%d, %v)", n, err)
	}
}
