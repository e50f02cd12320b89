package server

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL driver "pgx"
	_ "modernc.org/sqlite"             // SQLite driver "sqlite" (pure Go)

	"github.com/assent-app/assent/sync/server/sqlq"
)

// sqlStore is the Store over database/sql, shared by SQLite and PostgreSQL.
type sqlStore struct {
	db       *sql.DB
	postgres bool
	// locks (PostgreSQL) is a pool of its own for the recording locks: a
	// lock holds its connection while the request queries through db, so
	// sharing one pool could leave every connection held by a lock whose
	// holder waits for a connection.
	locks *sql.DB
}

// schema is migration 1 (see migrate.go); later changes are new migrations there.
var schema = []string{
	`CREATE TABLE IF NOT EXISTS enrolment_codes (code_hash TEXT PRIMARY KEY, expires BIGINT NOT NULL, used BIGINT NOT NULL DEFAULT 0)`,
	`CREATE TABLE IF NOT EXISTS devices (id TEXT PRIMARY KEY, name TEXT NOT NULL, signing_key TEXT NOT NULL, age_recipient TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE, enrolled BIGINT NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS recordings (id TEXT PRIMARY KEY, device_id TEXT NOT NULL, created BIGINT NOT NULL, finalised BIGINT NOT NULL DEFAULT 0, retain_until BIGINT NOT NULL, segments INTEGER NOT NULL DEFAULT 0)`,
	`CREATE INDEX IF NOT EXISTS recordings_device ON recordings(device_id)`,
	`CREATE TABLE IF NOT EXISTS segments (recording_id TEXT NOT NULL, idx INTEGER NOT NULL, size BIGINT NOT NULL, sha256 TEXT NOT NULL, PRIMARY KEY (recording_id, idx))`,
	`CREATE TABLE IF NOT EXISTS subjects (recording_id TEXT NOT NULL, subject TEXT NOT NULL, PRIMARY KEY (recording_id, subject))`,
	`CREATE INDEX IF NOT EXISTS subjects_subject ON subjects(subject)`,
	`CREATE TABLE IF NOT EXISTS restrictions (subject TEXT PRIMARY KEY, since BIGINT NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS tombstones (id TEXT PRIMARY KEY, deleted BIGINT NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS audit (t BIGINT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, subject TEXT NOT NULL, detail TEXT NOT NULL)`,
}

// OpenSQLite opens (creating if needed) the SQLite index at path.
func OpenSQLite(path string) (Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create directory for the database: %w", err)
	}
	dsn := "file:" + path + "?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open SQLite database %s: %w", path, err)
	}
	db.SetMaxOpenConns(8) // WAL: readers run beside the one writer; writes take the lock up front (_txlock=immediate)
	return initSQL(db, false)
}

// OpenPostgres opens the PostgreSQL index at dsn (a libpq URL or key=value string).
func OpenPostgres(dsn string) (Store, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("open PostgreSQL: %w", err)
	}
	db.SetMaxOpenConns(20)
	st, err := initSQL(db, true)
	if err != nil {
		return nil, err
	}
	locks, err := sql.Open("pgx", dsn)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("open PostgreSQL for recording locks: %w", err)
	}
	locks.SetMaxOpenConns(16) // requests holding a recording lock at once on this replica (more wait)
	locks.SetMaxIdleConns(4)
	st.(*sqlStore).locks = locks
	return st, nil
}

func initSQL(db *sql.DB, pg bool) (Store, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to the database: %w (check the DSN and that the server runs)", err)
	}
	s := &sqlStore{db: db, postgres: pg}
	if err := migrate(ctx, db, pg, 0); err != nil { // migrate.go: versioned, once, under a lock
		db.Close()
		return nil, fmt.Errorf("update the database schema: %w", err)
	}
	return s, nil
}

// q rewrites ? placeholders to $n for PostgreSQL.
func (s *sqlStore) q(query string) string { return sqlq.Rebind(s.postgres, query) }

func (s *sqlStore) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return s.db.ExecContext(ctx, s.q(query), args...)
}

func ns(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func tm(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func isUnique(err error) bool {
	if err == nil {
		return false
	}
	m := err.Error()
	return strings.Contains(m, "UNIQUE constraint") || strings.Contains(m, "SQLSTATE 23505") || strings.Contains(m, "duplicate key")
}

func (s *sqlStore) AddEnrolmentCode(ctx context.Context, h string, expires time.Time) error {
	_, err := s.exec(ctx, `INSERT INTO enrolment_codes (code_hash, expires) VALUES (?, ?)`, h, ns(expires))
	return err
}

func (s *sqlStore) UseEnrolmentCode(ctx context.Context, h string, now time.Time) error {
	res, err := s.exec(ctx, `UPDATE enrolment_codes SET used = ? WHERE code_hash = ? AND used = 0 AND expires > ?`, ns(now), h, ns(now))
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return ErrNotFound
	}
	return nil
}

func (s *sqlStore) AddDevice(ctx context.Context, d Device) error {
	_, err := s.exec(ctx, `INSERT INTO devices (id, name, signing_key, age_recipient, token_hash, enrolled) VALUES (?, ?, ?, ?, ?, ?)`,
		d.ID, d.Name, fmt.Sprintf("%x", d.SigningKey), d.AgeRecipient, d.TokenHash, ns(d.EnrolledAt))
	if isUnique(err) {
		return ErrExists
	}
	return err
}

func (s *sqlStore) device(ctx context.Context, where string, arg string) (Device, error) {
	var d Device
	var key string
	var enrolled int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT id, name, signing_key, age_recipient, token_hash, enrolled FROM devices WHERE `+where+` = ?`), arg).
		Scan(&d.ID, &d.Name, &key, &d.AgeRecipient, &d.TokenHash, &enrolled)
	if errors.Is(err, sql.ErrNoRows) {
		return d, ErrNotFound
	}
	if err != nil {
		return d, err
	}
	if _, err := fmt.Sscanf(key, "%x", &d.SigningKey); err != nil {
		return d, fmt.Errorf("stored signing key of device %s is damaged: %w", d.ID, err)
	}
	d.EnrolledAt = tm(enrolled)
	return d, nil
}

func (s *sqlStore) DeviceByToken(ctx context.Context, h string) (Device, error) {
	d, err := s.device(ctx, "token_hash", h)
	if !errors.Is(err, ErrNotFound) {
		return d, err
	}
	// A renewed token used for the first time (StageToken).
	if err := s.promoteToken(ctx, h); errors.Is(err, ErrNotFound) {
		return s.device(ctx, "token_hash", h) // promoted by a concurrent request, or no such token
	} else if err != nil {
		return Device{}, err
	}
	return s.device(ctx, "token_hash", h)
}

func (s *sqlStore) Device(ctx context.Context, id string) (Device, error) {
	return s.device(ctx, "id", id)
}

func (s *sqlStore) AddRecording(ctx context.Context, r Recording, subjects []string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, s.q(`INSERT INTO recordings (id, device_id, created, finalised, retain_until, segments) VALUES (?, ?, ?, ?, ?, ?)`),
		r.ID, r.DeviceID, ns(r.CreatedAt), ns(r.FinalisedAt), ns(r.RetainUntil), r.Segments)
	if isUnique(err) {
		return ErrExists
	}
	if err != nil {
		return err
	}
	if err := s.setSubjects(ctx, tx, r.ID, subjects); err != nil {
		return err
	}
	return tx.Commit()
}

func (s *sqlStore) setSubjects(ctx context.Context, tx *sql.Tx, id string, subjects []string) error {
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM subjects WHERE recording_id = ?`), id); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, sub := range subjects {
		if seen[sub] {
			continue
		}
		seen[sub] = true
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO subjects (recording_id, subject) VALUES (?, ?)`), id, sub); err != nil {
			return err
		}
	}
	return nil
}

const recCols = `id, device_id, created, finalised, retain_until, segments`

func scanRecs(rows *sql.Rows, err error) ([]Recording, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Recording
	for rows.Next() {
		var r Recording
		var c, f, ru int64
		if err := rows.Scan(&r.ID, &r.DeviceID, &c, &f, &ru, &r.Segments); err != nil {
			return nil, err
		}
		r.CreatedAt, r.FinalisedAt, r.RetainUntil = tm(c), tm(f), tm(ru)
		out = append(out, r)
	}
	return out, rows.Err()
}

func (s *sqlStore) Recording(ctx context.Context, id string) (Recording, error) {
	rs, err := scanRecs(s.db.QueryContext(ctx, s.q(`SELECT `+recCols+` FROM recordings WHERE id = ?`), id))
	if err != nil {
		return Recording{}, err
	}
	if len(rs) == 0 {
		return Recording{}, ErrNotFound
	}
	return rs[0], nil
}

func (s *sqlStore) Recordings(ctx context.Context, deviceID string) ([]Recording, error) {
	return scanRecs(s.db.QueryContext(ctx, s.q(`SELECT `+recCols+` FROM recordings WHERE device_id = ? ORDER BY created, id`), deviceID))
}

func (s *sqlStore) Finalise(ctx context.Context, id string, at, retainUntil time.Time, segments int, subjects []string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, s.q(`UPDATE recordings SET finalised = ?, retain_until = ?, segments = ? WHERE id = ?`), ns(at), ns(retainUntil), segments, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return ErrNotFound
	}
	if err := s.addSubjects(ctx, tx, id, subjects); err != nil {
		return err
	}
	return tx.Commit()
}

func (s *sqlStore) AddSubjects(ctx context.Context, id string, subjects []string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM recordings WHERE id = ?`), id).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	if err := s.addSubjects(ctx, tx, id, subjects); err != nil {
		return err
	}
	return tx.Commit()
}

// addSubjects inserts the subject hashes not yet indexed for recording id.
func (s *sqlStore) addSubjects(ctx context.Context, tx *sql.Tx, id string, subjects []string) error {
	for _, sub := range subjects {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO subjects (recording_id, subject) VALUES (?, ?) ON CONFLICT DO NOTHING`), id, sub); err != nil {
			return err
		}
	}
	return nil
}

func (s *sqlStore) DeleteRecording(ctx context.Context, id string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, s.q(`DELETE FROM recordings WHERE id = ?`), id)
	if err != nil {
		return err
	}
	n, _ := res.RowsAffected()
	for _, q := range []string{`DELETE FROM segments WHERE recording_id = ?`, `DELETE FROM subjects WHERE recording_id = ?`, `DELETE FROM tombstones WHERE id = ?`} {
		if _, err := tx.ExecContext(ctx, s.q(q), id); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO tombstones (id, deleted) VALUES (?, ?)`), id, time.Now().UnixNano()); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if n != 1 {
		return ErrNotFound
	}
	return nil
}

func (s *sqlStore) Deleted(ctx context.Context, id string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM tombstones WHERE id = ?`), id).Scan(&n)
	return n > 0, err
}

func (s *sqlStore) PutSegment(ctx context.Context, seg Segment) error {
	_, err := s.exec(ctx, `INSERT INTO segments (recording_id, idx, size, sha256) VALUES (?, ?, ?, ?)`, seg.RecordingID, seg.Index, seg.Size, seg.SHA256)
	if isUnique(err) {
		var have string
		if err := s.db.QueryRowContext(ctx, s.q(`SELECT sha256 FROM segments WHERE recording_id = ? AND idx = ?`), seg.RecordingID, seg.Index).Scan(&have); err != nil {
			return err
		}
		if have == seg.SHA256 {
			return nil
		}
		return ErrExists
	}
	return err
}

func (s *sqlStore) Segments(ctx context.Context, id string) ([]Segment, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT idx, size, sha256 FROM segments WHERE recording_id = ? ORDER BY idx`), id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Segment
	for rows.Next() {
		sg := Segment{RecordingID: id}
		if err := rows.Scan(&sg.Index, &sg.Size, &sg.SHA256); err != nil {
			return nil, err
		}
		out = append(out, sg)
	}
	return out, rows.Err()
}

func (s *sqlStore) RecordingsBySubject(ctx context.Context, subject string) ([]Recording, error) {
	return scanRecs(s.db.QueryContext(ctx, s.q(`SELECT `+recCols+` FROM recordings WHERE id IN (SELECT recording_id FROM subjects WHERE subject = ?) ORDER BY created, id`), subject))
}

func (s *sqlStore) SetRestricted(ctx context.Context, subject string, on bool) error {
	if !on {
		_, err := s.exec(ctx, `DELETE FROM restrictions WHERE subject = ?`, subject)
		return err
	}
	_, err := s.exec(ctx, `INSERT INTO restrictions (subject, since) VALUES (?, ?)`, subject, time.Now().UnixNano())
	if isUnique(err) {
		return nil
	}
	return err
}

func (s *sqlStore) Restricted(ctx context.Context, id string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM subjects s JOIN restrictions r ON r.subject = s.subject WHERE s.recording_id = ?`), id).Scan(&n)
	return n > 0, err
}

func (s *sqlStore) Expired(ctx context.Context, now time.Time) ([]Recording, error) {
	return scanRecs(s.db.QueryContext(ctx, s.q(`SELECT `+recCols+` FROM recordings WHERE retain_until > 0 AND retain_until <= ? ORDER BY retain_until`), ns(now)))
}

func (s *sqlStore) AddAudit(ctx context.Context, e AuditEntry) error {
	_, err := s.exec(ctx, `INSERT INTO audit (t, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)`, ns(e.Time), e.Actor, e.Action, e.Subject, e.Detail)
	return err
}

func (s *sqlStore) Audit(ctx context.Context, limit int) ([]AuditEntry, error) {
	if limit <= 0 {
		limit = 1000
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT t, actor, action, subject, detail FROM audit ORDER BY t DESC LIMIT ?`), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var t int64
		if err := rows.Scan(&t, &e.Actor, &e.Action, &e.Subject, &e.Detail); err != nil {
			return nil, err
		}
		e.Time = tm(t)
		out = append(out, e)
	}
	return out, rows.Err()
}

func (s *sqlStore) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

func (s *sqlStore) Close() error {
	if s.locks != nil {
		s.locks.Close()
	}
	return s.db.Close()
}

// recordingLockSpace is the first key of the two-key advisory locks that
// serialise one recording across replicas (any constant; "rec" in ASCII).
const recordingLockSpace = 0x726563

// LockRecording implements RecordingLocker: on PostgreSQL a session
// advisory lock on the recording id, held on a connection of its own until
// unlock (PostgreSQL releases it if the replica dies). SQLite serves one
// process, whose mutex is enough.
func (s *sqlStore) LockRecording(ctx context.Context, id string) (func(), error) {
	if !s.postgres || s.locks == nil {
		return func() {}, nil
	}
	conn, err := s.locks.Conn(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1, hashtext($2))`, recordingLockSpace, id); err != nil {
		conn.Close()
		return nil, err
	}
	return func() {
		_, _ = conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1, hashtext($2))`, recordingLockSpace, id)
		conn.Close()
	}, nil
}
