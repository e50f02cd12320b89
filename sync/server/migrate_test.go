package server

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	gosync "sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/assent-app/assent/internal/testenv"
)

// emptyPostgres makes a schema of its own on the real PostgreSQL and returns
// the DSN that uses it; nothing is created in it.
func emptyPostgres(t *testing.T) string {
	t.Helper()
	dsn, _ := testenv.PostgresSchema(t, "m_")
	return dsn
}

// oldReplica is assentd as released before versioned migrations: it created
// its tables itself (no schema_migrations) and serves from them. This
// build's code stands in for the old one, and it registers recordings only
// under the organisation's policy, so the old replica also created the
// tables of migration 4 (policies, revocations, token times, usage), as the
// issue-11 build did before versioned migrations; they are made with
// CREATE TABLE IF NOT EXISTS, so migration 4 still runs, and is recorded,
// once. Migrations 2 and 3 find nothing of theirs.
func oldReplica(t *testing.T, db *sql.DB, pg bool) *harness {
	t.Helper()
	for _, q := range append(append([]string(nil), schema...), serverSchema...) {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	return newHarnessWith(t, &sqlStore{db: db, postgres: pg})
}

// Versioned migrations run once, under a lock, while an old replica keeps
// serving: three new replicas start at once on a database an old replica
// created and is writing to; the old one sees no error, every migration
// ran exactly once, and the new replicas serve the old data.
func TestMigrationsRunOnceWhileOldReplicaServes(t *testing.T) {
	for _, c := range []struct {
		name string
		pg   bool
		dsn  func(t *testing.T) string
	}{
		{"PostgreSQL", true, emptyPostgres},
		{"SQLite", false, func(t *testing.T) string { return filepath.Join(t.TempDir(), "index.db") }},
	} {
		t.Run(c.name, func(t *testing.T) {
			dsn := c.dsn(t)
			open := func() (Store, error) {
				if c.pg {
					return OpenPostgres(dsn)
				}
				return OpenSQLite(dsn)
			}
			var raw *sql.DB
			var err error
			if c.pg {
				raw, err = sql.Open("pgx", dsn)
			} else {
				raw, err = sql.Open("sqlite", "file:"+dsn+"?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
			}
			if err != nil {
				t.Fatal(err)
			}
			old := oldReplica(t, raw, c.pg)
			d := old.enrol(1)
			old.fullRecording(d, "rec-before", 2, "ann@example.com")
			// Readiness of a new build on the old schema: not ready, and says why.
			if err := old.srv.Ready(t.Context()); err == nil || !strings.Contains(err.Error(), "schema") {
				t.Fatalf("ready on an unmigrated database: %v", err)
			}

			var wg gosync.WaitGroup
			var done atomic.Int32
			errs := make(chan error, 3)
			stores := make(chan Store, 3)
			for range 3 {
				wg.Go(func() {
					defer done.Add(1)
					st, err := open()
					if err != nil {
						errs <- err
						return
					}
					stores <- st
				})
			}
			// The old replica serves the whole time.
			n := 0
			for done.Load() < 3 || n < 2 {
				old.fullRecording(d, fmt.Sprintf("rec-during-%d", n), 1, "bob@example.com")
				n++
			}
			wg.Wait()
			close(errs)
			close(stores)
			for err := range errs {
				t.Fatalf("a new replica failed to start: %v", err)
			}
			var news []Store
			for st := range stores {
				news = append(news, st)
				t.Cleanup(func() { st.Close() })
			}
			rows, err := raw.Query(`SELECT version FROM schema_migrations ORDER BY version`)
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for rows.Next() {
				var v int
				rows.Scan(&v)
				got = append(got, v)
			}
			rows.Close()
			if len(got) != LatestSchema() || got[0] != 1 || got[len(got)-1] != LatestSchema() {
				t.Fatalf("schema_migrations holds %v, want each of 1..%d once", got, LatestSchema())
			}
			// New replicas see what the old one stored, before and during.
			recs, err := news[0].Recordings(t.Context(), d.id)
			if err != nil || len(recs) != n+1 {
				t.Fatalf("new replica sees %d recordings (%v), want %d", len(recs), err, n+1)
			}
			if err := old.srv.Ready(t.Context()); err != nil {
				t.Fatalf("not ready after the migration: %v", err)
			}
			// The old replica still serves after the migration too.
			old.fullRecording(d, "rec-after", 1, "cy@example.com")
			if v, err := SchemaVersion(t.Context(), news[1]); err != nil || v != LatestSchema() {
				t.Fatalf("SchemaVersion = %d %v", v, err)
			}
		})
	}
}

// Leases: one holder at a time; a dead holder's lease lapses after its ttl.
func TestLeaseOneHolderAtATime(t *testing.T) {
	run := func(t *testing.T, st Store) {
		l := st.(Leaser)
		ctx := t.Context()
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		if ok, err := l.TryLease(ctx, "purge", "a", time.Minute, t0); !ok || err != nil {
			t.Fatalf("first lease: %v %v", ok, err)
		}
		if ok, _ := l.TryLease(ctx, "purge", "b", time.Minute, t0.Add(30*time.Second)); ok {
			t.Fatal("b took a running lease")
		}
		if ok, _ := l.TryLease(ctx, "sweep", "b", time.Minute, t0); !ok {
			t.Fatal("another name is blocked")
		}
		if ok, _ := l.TryLease(ctx, "purge", "a", time.Minute, t0.Add(30*time.Second)); !ok {
			t.Fatal("holder could not renew")
		}
		if ok, _ := l.TryLease(ctx, "purge", "b", time.Minute, t0.Add(91*time.Second)); !ok {
			t.Fatal("b could not take a lapsed lease")
		}
		l.ReleaseLease(ctx, "purge", "a") // not the holder: no effect
		if ok, _ := l.TryLease(ctx, "purge", "a", time.Minute, t0.Add(100*time.Second)); ok {
			t.Fatal("a foreign release freed the lease")
		}
		l.ReleaseLease(ctx, "purge", "b")
		if ok, _ := l.TryLease(ctx, "purge", "a", time.Minute, t0.Add(100*time.Second)); !ok {
			t.Fatal("released lease not free")
		}
	}
	t.Run("SQLite", func(t *testing.T) {
		st, err := OpenSQLite(filepath.Join(t.TempDir(), "i.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		run(t, st)
	})
	t.Run("PostgreSQL", func(t *testing.T) { run(t, freshPostgres(t)) })
}

// The retention purge scheduled on three replicas never runs twice at once.
func TestPurgeNeverTwiceAtOnce(t *testing.T) {
	dsn := emptyPostgres(t)
	var running, most, runs atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	var wg gosync.WaitGroup
	for i := range 3 {
		st, err := OpenPostgres(dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		wg.Go(func() {
			RunLeased(ctx, st, "retention-purge", fmt.Sprintf("replica-%d", i), 5*time.Millisecond, time.Minute,
				func(err error) { t.Errorf("lease: %v", err) },
				func(context.Context) error {
					n := running.Add(1)
					for {
						m := most.Load()
						if n <= m || most.CompareAndSwap(m, n) {
							break
						}
					}
					time.Sleep(10 * time.Millisecond)
					running.Add(-1)
					runs.Add(1)
					return nil
				})
		})
	}
	for runs.Load() < 20 {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	if most.Load() != 1 {
		t.Fatalf("%d purges ran at once", most.Load())
	}
}
