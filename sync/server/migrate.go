package server

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/assent-app/assent/sync/server/consentpage"
)

// Versioned schema migrations.
//
// The schema is a list of numbered migrations; the database records the ones
// it ran in schema_migrations. Every replica runs Migrate at start: the first
// to get the migration lock (a PostgreSQL advisory lock; SQLite's write lock)
// applies what is missing, each migration in its own transaction, the others
// wait and then find nothing to do.
//
// Rules that let old replicas keep serving while a new one migrates:
//   - a migration only adds (tables, indexes, columns with a default); it
//     never renames, drops or changes what an older version reads or writes;
//   - a replica whose database is ahead of it (a newer replica migrated)
//     keeps serving: the tables it knows are unchanged;
//   - removing something old takes two releases: stop using it, then drop it.

// migration is one schema step. Statements run in one transaction.
type migration struct {
	version int
	name    string
	stmts   func(pg bool) []string
}

// migrations is the schema history. Never edit a released entry: add one.
var migrations = []migration{
	{1, "baseline: devices, recordings, segments, subjects, restrictions, tombstones, audit", func(bool) []string { return schema }},
	{2, "leases for jobs that must not run twice at once (purge, sweeper)", func(bool) []string {
		return []string{`CREATE TABLE IF NOT EXISTS leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, until_ns BIGINT NOT NULL)`}
	}},
	{3, "remote consent links, their tokens and answers (shared by all replicas)", consentpage.Schema},
	{4, "device revocations, token issue times, daily upload usage, organisation policy versions", func(bool) []string { return serverSchema }},
	{5, "renewed device tokens not used yet (the old token works until the new one is)", func(bool) []string {
		return []string{`CREATE TABLE IF NOT EXISTS device_pending_tokens (device_id TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, issued BIGINT NOT NULL)`}
	}},
}

// LatestSchema is the schema version this build migrates to.
func LatestSchema() int { return migrations[len(migrations)-1].version }

const migrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied BIGINT NOT NULL)`

// migrationLockKey is the PostgreSQL advisory lock held while migrating
// (any constant; "assentd" in ASCII).
const migrationLockKey = 0x617373656e7464

// migrate brings db to version target (LatestSchema when target <= 0).
func migrate(ctx context.Context, db *sql.DB, pg bool, target int) error {
	if target <= 0 {
		target = LatestSchema()
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if pg {
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, migrationLockKey); err != nil {
			return fmt.Errorf("take the migration lock: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLockKey)
	}
	if _, err := conn.ExecContext(ctx, migrationsTable); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	for _, m := range migrations {
		if m.version > target {
			break
		}
		if err := applyMigration(ctx, conn, pg, m); err != nil {
			return fmt.Errorf("schema migration %d (%s): %w", m.version, m.name, err)
		}
	}
	return nil
}

func applyMigration(ctx context.Context, conn *sql.Conn, pg bool, m migration) error {
	tx, err := conn.BeginTx(ctx, nil) // SQLite: BEGIN IMMEDIATE (the DSN's _txlock), so one migrator at a time
	if err != nil {
		return err
	}
	defer tx.Rollback()
	q := `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`
	if pg {
		q = `SELECT COUNT(*) FROM schema_migrations WHERE version = $1`
	}
	var n int
	if err := tx.QueryRowContext(ctx, q, m.version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	for _, s := range m.stmts(pg) {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	ins := `INSERT INTO schema_migrations (version, name, applied) VALUES (?, ?, ?)`
	if pg {
		ins = `INSERT INTO schema_migrations (version, name, applied) VALUES ($1, $2, $3)`
	}
	if _, err := tx.ExecContext(ctx, ins, m.version, m.name, time.Now().UnixNano()); err != nil {
		return err
	}
	return tx.Commit()
}

// schemaVersion is the highest migration the database ran (0: none).
func schemaVersion(ctx context.Context, db *sql.DB) (int, error) {
	var v sql.NullInt64
	err := db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v)
	if err != nil {
		return 0, err
	}
	return int(v.Int64), nil
}

// SchemaVersion reports the database's schema version, for readiness and
// `assentd migrate`. Only the SQL stores have one.
func SchemaVersion(ctx context.Context, st Store) (int, error) {
	s, ok := st.(*sqlStore)
	if !ok {
		return 0, errors.New("this store has no schema version")
	}
	return schemaVersion(ctx, s.db)
}

// SQLDB returns the database handle under a SQL store and whether it is
// PostgreSQL, for the parts of assentd that keep their own tables in it
// (remote consent links). ok is false for other stores.
func SQLDB(st Store) (db *sql.DB, postgres bool, ok bool) {
	s, ok := st.(*sqlStore)
	if !ok {
		return nil, false, false
	}
	return s.db, s.postgres, true
}

// ---- leases ----------------------------------------------------------------

// Leaser hands out time-limited leases by name, so a job that every replica
// schedules (retention purge, upload sweeper) runs on one replica at a time.
type Leaser interface {
	// TryLease takes or renews the lease name for holder until now+ttl; it
	// reports false while another holder's lease is still running.
	TryLease(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (bool, error)
	// ReleaseLease ends holder's lease early (absent or foreign: no-op).
	ReleaseLease(ctx context.Context, name, holder string) error
}

func (s *sqlStore) TryLease(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (bool, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO leases (name, holder, until_ns) VALUES (?, '', 0) ON CONFLICT (name) DO NOTHING`), name); err != nil {
		return false, err
	}
	res, err := tx.ExecContext(ctx, s.q(`UPDATE leases SET holder = ?, until_ns = ? WHERE name = ? AND (holder = ? OR until_ns <= ?)`),
		holder, now.Add(ttl).UnixNano(), name, holder, now.UnixNano())
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	if err := tx.Commit(); err != nil {
		return false, err
	}
	return n == 1, nil
}

func (s *sqlStore) ReleaseLease(ctx context.Context, name, holder string) error {
	_, err := s.exec(ctx, `UPDATE leases SET until_ns = 0 WHERE name = ? AND holder = ?`, name, holder)
	return err
}

// RunLeased runs job every interval on whichever replica holds the lease
// name; the others skip that round. The lease lasts ttl (longer than one job
// takes), so a replica that dies mid-job blocks the job for at most ttl.
// A store without leases (not SQL) runs job every round: one process.
func RunLeased(ctx context.Context, st Store, name, holder string, interval, ttl time.Duration, log func(error), job func(context.Context) error) {
	l, _ := st.(Leaser)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		run := true
		if l != nil {
			ok, err := l.TryLease(ctx, name, holder, ttl, time.Now())
			if err != nil && ctx.Err() == nil {
				log(fmt.Errorf("lease %s: %w", name, err))
			}
			run = ok && err == nil
		}
		if run {
			if err := job(ctx); err != nil && ctx.Err() == nil {
				log(err)
			}
			if l != nil {
				l.ReleaseLease(context.WithoutCancel(ctx), name, holder)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
