package bucket_test

import (
	"context"
	"path/filepath"
	gosync "sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/assent-app/assent/internal/testenv"
	"github.com/assent-app/assent/sync/server"
	"github.com/assent-app/assent/sync/server/bucket"
)

// pgReplicas opens n stores on one fresh PostgreSQL schema, each with a
// connection pool of its own, as n assentd replicas have.
func pgReplicas(t *testing.T, n int) []*bucket.SQL {
	t.Helper()
	dsn, _ := testenv.PostgresSchema(t, "bk_")
	var out []*bucket.SQL
	for range n {
		st, err := server.OpenPostgres(dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		db, pg, _ := server.SQLDB(st)
		out = append(out, bucket.NewSQL(db, pg))
	}
	return out
}

func sqlite(t *testing.T) *bucket.SQL {
	t.Helper()
	st, err := server.OpenSQLite(filepath.Join(t.TempDir(), "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	db, pg, _ := server.SQLDB(st)
	return bucket.NewSQL(db, pg)
}

// takeAll has 40 takers at once, spread over the stores, take from one key.
func takeAll(t *testing.T, stores []*bucket.SQL, key string, r bucket.Rate, now time.Time) int {
	t.Helper()
	var got atomic.Int64
	var wg gosync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			ok, wait, err := stores[i%len(stores)].Take(context.Background(), key, r, now)
			if err != nil {
				t.Error(err)
				return
			}
			if ok {
				got.Add(1)
			} else if wait <= 0 || wait > time.Minute/time.Duration(r.PerMinute)+time.Second {
				t.Errorf("refused with wait %v; want up to one refill interval", wait)
			}
		})
	}
	wg.Wait()
	return int(got.Load())
}

func checkBucket(t *testing.T, stores []*bucket.SQL) {
	r := bucket.Rate{Burst: 7, PerMinute: 6} // one token every 10 s
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ctx := context.Background()
	if ok, _, err := stores[0].Peek(ctx, "k", r, now); err != nil || !ok {
		t.Fatalf("a fresh bucket: Peek = %v, %v; want a token", ok, err)
	}
	if got := takeAll(t, stores, "k", r, now); got != r.Burst {
		t.Fatalf("40 takers at once got %d tokens in total, want exactly the burst %d", got, r.Burst)
	}
	ok, wait, err := stores[len(stores)-1].Peek(ctx, "k", r, now)
	if err != nil || ok || wait != 10*time.Second {
		t.Fatalf("empty bucket: Peek = %v, %v, %v; want false, 10s", ok, wait, err)
	}
	// 25 s later: two tokens again, on any store; the half left over stays.
	if got := takeAll(t, stores, "k", r, now.Add(25*time.Second)); got != 2 {
		t.Fatalf("after 25 s at 6/min: %d tokens, want 2", got)
	}
	if ok, wait, _ := stores[0].Peek(ctx, "k", r, now.Add(30*time.Second)); !ok || wait != 0 {
		t.Fatalf("after 30 s the third token is back: Peek = %v %v", ok, wait)
	}
	// An hour later the bucket is full again, never fuller.
	if got := takeAll(t, stores, "k", r, now.Add(time.Hour)); got != r.Burst {
		t.Fatalf("after an hour: %d tokens, want the burst %d", got, r.Burst)
	}
	// A token given back can be taken again, but never above the burst.
	for range 3 {
		if err := stores[0].Give(ctx, "k", r); err != nil {
			t.Fatal(err)
		}
	}
	if got := takeAll(t, stores, "k", r, now.Add(time.Hour)); got != 3 {
		t.Fatalf("after giving back 3: %d tokens, want 3", got)
	}
	if err := stores[0].Give(ctx, "other", r); err != nil {
		t.Fatal(err)
	}
	// Another key is another bucket.
	if got := takeAll(t, stores, "other", r, now.Add(time.Hour)); got != r.Burst {
		t.Fatalf("a second key: %d tokens, want %d", got, r.Burst)
	}
}

// TestBucketHoldsAcrossReplicas: three connection pools on one PostgreSQL
// (three replicas) share one bucket: 40 concurrent takers get exactly the
// burst in total, and it refills at the rate.
func TestBucketHoldsAcrossReplicas(t *testing.T) {
	checkBucket(t, pgReplicas(t, 3))
}

// TestBucketSQLite: the same statements on the single-node SQLite index.
func TestBucketSQLite(t *testing.T) {
	checkBucket(t, []*bucket.SQL{sqlite(t)})
}

// TestBucketMemory: the in-process buckets (no database, or the database
// not answering) follow the same arithmetic.
func TestBucketMemory(t *testing.T) {
	var m bucket.Memory
	r := bucket.Rate{Burst: 7, PerMinute: 6}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	take := func(at time.Time) int {
		var got atomic.Int64
		var wg gosync.WaitGroup
		for range 40 {
			wg.Go(func() {
				if ok, wait := m.Take("k", r, at); ok {
					got.Add(1)
				} else if wait <= 0 || wait > 10*time.Second {
					t.Errorf("refused with wait %v", wait)
				}
			})
		}
		wg.Wait()
		return int(got.Load())
	}
	if got := take(now); got != r.Burst {
		t.Fatalf("40 takers at once: %d tokens, want %d", got, r.Burst)
	}
	if ok, wait := m.Take("k", r, now); ok || wait != 10*time.Second {
		t.Fatalf("empty: %v %v, want false 10s", ok, wait)
	}
	if got := take(now.Add(25 * time.Second)); got != 2 {
		t.Fatalf("after 25 s: %d, want 2", got)
	}
	for range 3 {
		m.Give("k", r)
	}
	if got := take(now.Add(25 * time.Second)); got != 3 {
		t.Fatalf("after giving back 3: %d, want 3", got)
	}
	if got := take(now.Add(time.Hour)); got != r.Burst {
		t.Fatalf("after an hour: %d, want the burst %d", got, r.Burst)
	}
}
