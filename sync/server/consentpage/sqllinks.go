package consentpage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/assent-app/assent/sync/server/bucket"
	"github.com/assent-app/assent/sync/server/sqlq"
)

// Schema is the SQL of the link tables (assentd's schema migration 3; see
// sync/server/migrate.go). A link is one row holding its whole state as
// JSON (notice texts, slots with token hashes, answers); the token index
// maps each token's SHA-256 to its link and slot. No plaintext token, and
// the rows go at the sweep after the link ended.
func Schema(postgres bool) []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS consent_links (id TEXT PRIMARY KEY, device TEXT NOT NULL, end_ns BIGINT NOT NULL, size BIGINT NOT NULL, state TEXT NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS consent_links_device ON consent_links(device, end_ns)`,
		`CREATE INDEX IF NOT EXISTS consent_links_end ON consent_links(end_ns)`,
		`CREATE TABLE IF NOT EXISTS consent_tokens (token_hash TEXT PRIMARY KEY, link_id TEXT NOT NULL, slot TEXT NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS consent_tokens_link ON consent_tokens(link_id)`,
		// Rate-limit buckets shared by the replicas (package bucket: consent pages and
		// failed admin/enrolment attempts); key is a SHA-256 (never an address).
		`CREATE TABLE IF NOT EXISTS consent_rate (key TEXT PRIMARY KEY, tokens DOUBLE PRECISION NOT NULL, last_ns BIGINT NOT NULL)`,
	}
}

// notifyChannel is the PostgreSQL LISTEN/NOTIFY channel of link changes;
// the payload is the link id.
const notifyChannel = "assent_consent_links"

// linkLockKey serialises link creation across replicas on PostgreSQL
// (pg_advisory_xact_lock), so the quotas count every replica's links.
const linkLockKey = 0x636f6e73656e74

// SQLLinks keeps links in assentd's database (SQLite or PostgreSQL), so
// every replica serves every link. On PostgreSQL a change on one replica
// reaches the event streams of the others through LISTEN/NOTIFY (Listen);
// SQLite is a single node and wakes its own streams.
type SQLLinks struct {
	db  *sql.DB
	pg  bool
	hub *hub
	log *slog.Logger
	// buckets are the shared rate limits (table consent_rate).
	buckets *bucket.SQL
	// listening is closed once Listen receives notifications (tests).
	listening chan struct{}
}

// NewSQLLinks uses db, whose tables Schema created. postgres selects the
// dialect and LISTEN/NOTIFY.
func NewSQLLinks(db *sql.DB, postgres bool, log *slog.Logger) *SQLLinks {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &SQLLinks{db: db, pg: postgres, hub: newHub(), log: log, listening: make(chan struct{}), buckets: bucket.NewSQL(db, postgres)}
}

func (s *SQLLinks) q(query string) string { return sqlq.Rebind(s.pg, query) }

func (s *SQLLinks) Insert(ctx context.Context, l *link, index map[string]string, lim Limits, now time.Time) error {
	b, err := encodeLink(l)
	if err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil) // SQLite: BEGIN IMMEDIATE, one writer
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if s.pg {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, linkLockKey); err != nil {
			return err
		}
	}
	var open, dev int
	var devBytes int64
	if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM consent_links WHERE end_ns > ?`), now.UnixNano()).Scan(&open); err != nil {
		return err
	}
	if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*), COALESCE(SUM(size), 0) FROM consent_links WHERE device = ? AND end_ns > ?`), l.Device, now.UnixNano()).Scan(&dev, &devBytes); err != nil {
		return err
	}
	switch {
	case lim.Server > 0 && open >= lim.Server:
		return ErrServerLinks
	case lim.Device > 0 && dev >= lim.Device, lim.DeviceBytes > 0 && devBytes+int64(len(b)) > lim.DeviceBytes:
		return ErrDeviceLinks
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO consent_links (id, device, end_ns, size, state) VALUES (?, ?, ?, ?, ?)`),
		l.ID, l.Device, l.end().UnixNano(), len(b), string(b)); err != nil {
		return err
	}
	if err := s.addTokens(ctx, tx, l.ID, index); err != nil {
		return err
	}
	return tx.Commit()
}

func (s *SQLLinks) addTokens(ctx context.Context, tx *sql.Tx, id string, index map[string]string) error {
	for h, slot := range index {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO consent_tokens (token_hash, link_id, slot) VALUES (?, ?, ?)`), h, id, slot); err != nil {
			return err
		}
	}
	return nil
}

func (s *SQLLinks) Get(ctx context.Context, id string) (*link, error) {
	var state string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT state FROM consent_links WHERE id = ?`), id).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNoLink
	}
	if err != nil {
		return nil, err
	}
	return decodeLink([]byte(state))
}

func (s *SQLLinks) Token(ctx context.Context, hash string) (string, string, error) {
	var id, slot string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT link_id, slot FROM consent_tokens WHERE token_hash = ?`), hash).Scan(&id, &slot)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", ErrNoLink
	}
	return id, slot, err
}

func (s *SQLLinks) Update(ctx context.Context, id string, fn func(*link) (map[string]string, error)) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	sel := `SELECT state FROM consent_links WHERE id = ?`
	if s.pg {
		sel += ` FOR UPDATE` // one answer at a time per link, on every replica
	}
	var state string
	err = tx.QueryRowContext(ctx, s.q(sel), id).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNoLink
	}
	if err != nil {
		return err
	}
	l, err := decodeLink([]byte(state))
	if err != nil {
		return err
	}
	idx, err := fn(l)
	if err != nil {
		return err
	}
	b, err := encodeLink(l)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE consent_links SET state = ?, end_ns = ?, size = ? WHERE id = ?`), string(b), l.end().UnixNano(), len(b), id); err != nil {
		return err
	}
	if err := s.addTokens(ctx, tx, id, idx); err != nil {
		return err
	}
	if s.pg {
		// Delivered to every listening replica when the transaction commits.
		if _, err := tx.ExecContext(ctx, `SELECT pg_notify($1, $2)`, notifyChannel, id); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.hub.wake(id)
	return nil
}

func (s *SQLLinks) Sweep(ctx context.Context, cutoff time.Time) (int, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	c := cutoff.UnixNano()
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM consent_tokens WHERE link_id IN (SELECT id FROM consent_links WHERE end_ns <= ?)`), c); err != nil {
		return 0, err
	}
	res, err := tx.ExecContext(ctx, s.q(`DELETE FROM consent_links WHERE end_ns <= ?`), c)
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	// Buckets untouched for an hour are full again: forget them.
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM consent_rate WHERE last_ns < ?`), cutoff.Add(-time.Hour).UnixNano()); err != nil {
		return 0, err
	}
	return int(n), tx.Commit()
}

// Take takes one request from the shared token bucket key (a hash), so a
// rate limit holds across replicas (package bucket: one atomic statement).
// It returns false and the wait when the bucket is empty.
func (s *SQLLinks) Take(ctx context.Context, key string, r Rate, now time.Time) (bool, time.Duration, error) {
	return s.buckets.Take(ctx, key, r, now)
}

func (s *SQLLinks) Watch(id string) (<-chan struct{}, func()) { return s.hub.watch(id) }

// Listen receives the other replicas' link changes (PostgreSQL LISTEN on
// one pooled connection) until ctx ends, reconnecting after a failure.
// Every time it (re)starts listening it wakes all local streams, so a change
// made while it was not listening is read too. SQLite: returns at once.
func (s *SQLLinks) Listen(ctx context.Context) {
	if !s.pg {
		return
	}
	for ctx.Err() == nil {
		err := s.listenOnce(ctx)
		s.hub.wakeAll()
		if ctx.Err() != nil {
			return
		}
		s.log.Error("consent link notifications lost; reconnecting", "err", err.Error())
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func (s *SQLLinks) listenOnce(ctx context.Context) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `LISTEN `+notifyChannel); err != nil {
		return err
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `UNLISTEN `+notifyChannel)
	s.hub.wakeAll()
	select {
	case <-s.listening:
	default:
		close(s.listening)
	}
	return conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("LISTEN needs the pgx driver, not %T", dc)
		}
		for {
			n, err := c.Conn().WaitForNotification(ctx)
			if err != nil {
				return err
			}
			s.hub.wake(n.Payload)
		}
	})
}

// Listening is closed once Listen has started receiving notifications.
func (s *SQLLinks) Listening() <-chan struct{} { return s.listening }
