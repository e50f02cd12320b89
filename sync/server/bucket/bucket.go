// Package bucket is assentd's token bucket in the database: one row per key
// in the consent_rate table (schema migration 3), taken from in one atomic
// statement, so a rate limit holds across every replica that shares the
// database (PostgreSQL) and across restarts (SQLite and PostgreSQL).
//
// It serves the consent pages' per-address and per-token limits and the
// server's limit on failed admin and enrolment attempts. Keys are opaque
// strings chosen by the caller: pass a hash, never an address or a token.
//
// It never holds a lock between statements: Take is a single
// INSERT … ON CONFLICT DO UPDATE … WHERE … RETURNING, so two replicas taking
// the last token at the same moment cannot both get it.
package bucket

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"
	"time"
)

// Rate is a rate limit: Burst requests at once, refilled at PerMinute.
type Rate struct {
	Burst     int
	PerMinute float64
}

// SQL is the token buckets in one database.
type SQL struct {
	db   *sql.DB
	take string
	peek string
	give string
}

// takeSQL inserts a full bucket less one token, or refills the existing
// bucket for the time since it was last taken from and takes one token, but
// only WHERE a whole token is there: no row comes back when the bucket is
// empty (and the row is left as it was). $1 key, $2 burst, $3 now (ns),
// $4 tokens per nanosecond.
const takeSQL = `INSERT INTO consent_rate AS b (key, tokens, last_ns) VALUES ($1, CAST($2 AS DOUBLE PRECISION) - 1, $3)
ON CONFLICT (key) DO UPDATE SET
  tokens = LEAST(CAST($2 AS DOUBLE PRECISION), b.tokens + CAST(GREATEST($3 - b.last_ns, 0) AS DOUBLE PRECISION) * CAST($4 AS DOUBLE PRECISION)) - 1,
  last_ns = GREATEST(b.last_ns, $3)
WHERE LEAST(CAST($2 AS DOUBLE PRECISION), b.tokens + CAST(GREATEST($3 - b.last_ns, 0) AS DOUBLE PRECISION) * CAST($4 AS DOUBLE PRECISION)) >= 1
RETURNING tokens`

const peekSQL = `SELECT tokens, last_ns FROM consent_rate WHERE key = $1`

const giveSQL = `UPDATE consent_rate SET tokens = LEAST(CAST($2 AS DOUBLE PRECISION), tokens + 1) WHERE key = $1`

// NewSQL uses db, where the consent_rate table exists (assentd's schema
// migration 3). postgres selects the dialect; the statements are the same
// on SQLite (MIN/MAX for LEAST/GREATEST, ?N for $N).
func NewSQL(db *sql.DB, postgres bool) *SQL {
	s := &SQL{db: db, take: takeSQL, peek: peekSQL, give: giveSQL}
	if !postgres {
		r := strings.NewReplacer("LEAST(", "MIN(", "GREATEST(", "MAX(", "$", "?")
		s.take, s.peek, s.give = r.Replace(takeSQL), r.Replace(peekSQL), r.Replace(giveSQL)
	}
	return s
}

func perNanosecond(r Rate) float64 { return r.PerMinute / float64(time.Minute) }

// Take takes one token from key's bucket. When the bucket is empty it
// returns false and how long until the next token (the bucket is unchanged).
func (s *SQL) Take(ctx context.Context, key string, r Rate, now time.Time) (bool, time.Duration, error) {
	var left float64
	err := s.db.QueryRowContext(ctx, s.take, key, r.Burst, now.UnixNano(), perNanosecond(r)).Scan(&left)
	if err == nil {
		return true, 0, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return false, 0, err
	}
	ok, wait, err := s.Peek(ctx, key, r, now)
	if err != nil {
		return false, 0, err
	}
	if ok { // refilled between the two statements: the caller retries later
		wait = time.Second
	}
	return false, wait, nil
}

// Give hands one token back to key's bucket (never above the burst): for a
// limit that counts only failures, the caller takes a token before it
// checks, and gives it back when the check passed.
func (s *SQL) Give(ctx context.Context, key string, r Rate) error {
	_, err := s.db.ExecContext(ctx, s.give, key, r.Burst)
	return err
}

// Peek reports whether key's bucket has a token now, without taking it, and
// if not, how long until it has one.
func (s *SQL) Peek(ctx context.Context, key string, r Rate, now time.Time) (bool, time.Duration, error) {
	var tokens float64
	var last int64
	err := s.db.QueryRowContext(ctx, s.peek, key).Scan(&tokens, &last)
	if errors.Is(err, sql.ErrNoRows) {
		return true, 0, nil
	}
	if err != nil {
		return false, 0, err
	}
	ok, wait := Refill(tokens, last, r, now)
	return ok, wait, nil
}

// refilled is tokens left at last (ns) refilled until now, capped at the
// burst: the arithmetic of the SQL statements.
func refilled(tokens float64, last int64, r Rate, now time.Time) float64 {
	if el := now.UnixNano() - last; el > 0 {
		tokens = min(float64(r.Burst), tokens+float64(el)*perNanosecond(r))
	}
	return tokens
}

// Refill is the bucket arithmetic both statements do: tokens left at
// last (ns) refilled until now, capped at the burst. It reports whether a
// whole token is there and, if not, how long until there is.
func Refill(tokens float64, last int64, r Rate, now time.Time) (bool, time.Duration) {
	tokens = refilled(tokens, last, r, now)
	if tokens >= 1 {
		return true, 0
	}
	if r.PerMinute <= 0 {
		return false, time.Hour
	}
	return false, time.Duration((1 - tokens) / perNanosecond(r))
}

// Memory is token buckets in this process only, with the same arithmetic:
// for a server without an SQL store (one process) and as the fallback when
// the database does not answer. The zero value is ready to use.
type Memory struct {
	mu sync.Mutex
	m  map[string]*memBucket
}

type memBucket struct {
	tokens float64
	last   int64
}

// memForget: buckets untouched this long are dropped (full again by then at
// every rate assentd uses), as the SQL buckets are swept.
const memForget = time.Hour

// Take takes one token from key's bucket; false and the wait if it is empty.
func (m *Memory) Take(key string, r Rate, now time.Time) (bool, time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = map[string]*memBucket{}
	}
	b := m.m[key]
	if b == nil {
		if len(m.m) >= 100000 {
			for k, o := range m.m {
				if now.UnixNano()-o.last > int64(memForget) {
					delete(m.m, k)
				}
			}
		}
		b = &memBucket{tokens: float64(r.Burst), last: now.UnixNano()}
		m.m[key] = b
	}
	tokens := refilled(b.tokens, b.last, r, now)
	b.last = max(b.last, now.UnixNano())
	b.tokens = tokens
	if tokens >= 1 {
		b.tokens--
		return true, 0
	}
	_, wait := Refill(tokens, b.last, r, now)
	return false, wait
}

// Give hands one token back to key's bucket (never above the burst).
func (m *Memory) Give(key string, r Rate) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if b := m.m[key]; b != nil {
		b.tokens = min(float64(r.Burst), b.tokens+1)
	}
}
