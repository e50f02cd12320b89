package server

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// Store methods of the `server` branch (device revocation, token rotation,
// policy versions) over the tables in schema_server.go.

// ServerStore is what the server needs beyond Store for issue 11. The SQL
// stores implement it.
type ServerStore interface {
	// RevokeDevice makes the device's token invalid for good; ErrNotFound if unknown.
	RevokeDevice(ctx context.Context, id, reason string, at time.Time) error
	// Devices lists every enrolled device, revoked ones with Revoked set.
	Devices(ctx context.Context) ([]Device, error)
	// TokenIssued is when the device's current token was issued.
	TokenIssued(ctx context.Context, id string) (time.Time, error)
	// RotateToken replaces the device's token hash; ErrNotFound if the
	// device is unknown, revoked, or its token is no longer oldHash.
	RotateToken(ctx context.Context, id, oldHash, newHash string, at time.Time) error
	// StageToken issues newHash as the device's next token: the current
	// token (currentHash) keeps working until newHash is first used
	// (DeviceByToken then makes it the device's token and ends the old
	// one), so a device that lost the answer can still ask again. A second
	// StageToken replaces an unused one. ErrNotFound if the device is
	// unknown, revoked, or its token is no longer currentHash.
	StageToken(ctx context.Context, id, currentHash, newHash string, at time.Time) error
	// ReserveBytes adds n to the device's upload bytes of day (YYYY-MM-DD)
	// if the total stays within limit; ok is false (and nothing added) if not.
	ReserveBytes(ctx context.Context, id, day string, n, limit int64) (ok bool, used int64, err error)
	// AddPolicy stores a policy version; ErrExists if the version is taken.
	AddPolicy(ctx context.Context, p StoredPolicy) error
	// Policies lists every policy version, oldest first.
	Policies(ctx context.Context) ([]StoredPolicy, error)
}

// StoredPolicy is one signed policy version as kept by the server.
type StoredPolicy struct {
	Version   int
	Issued    time.Time
	Policy    []byte // the exact signed JSON of consent.Policy
	KeyID     string
	Signature string
}

func (s *sqlStore) RevokeDevice(ctx context.Context, id, reason string, at time.Time) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, s.q(`UPDATE devices SET token_hash = ? WHERE id = ?`), "revoked:"+id, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return ErrNotFound
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO device_revocations (device_id, revoked, reason) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`), id, ns(at), reason); err != nil {
		return err
	}
	// A renewed token not used yet ends with the device too.
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM device_pending_tokens WHERE device_id = ?`), id); err != nil {
		return err
	}
	return tx.Commit()
}

func (s *sqlStore) Devices(ctx context.Context) ([]Device, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT d.id, d.name, d.enrolled, COALESCE(r.revoked, 0) FROM devices d LEFT JOIN device_revocations r ON r.device_id = d.id ORDER BY d.enrolled, d.id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Device
	for rows.Next() {
		var d Device
		var enrolled, revoked int64
		if err := rows.Scan(&d.ID, &d.Name, &enrolled, &revoked); err != nil {
			return nil, err
		}
		d.EnrolledAt, d.Revoked = tm(enrolled), tm(revoked)
		out = append(out, d)
	}
	return out, rows.Err()
}

func (s *sqlStore) TokenIssued(ctx context.Context, id string) (time.Time, error) {
	var issued int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT issued FROM device_tokens WHERE device_id = ?`), id).Scan(&issued)
	if errors.Is(err, sql.ErrNoRows) {
		err = s.db.QueryRowContext(ctx, s.q(`SELECT enrolled FROM devices WHERE id = ?`), id).Scan(&issued)
		if errors.Is(err, sql.ErrNoRows) {
			return time.Time{}, ErrNotFound
		}
	}
	return tm(issued), err
}

func (s *sqlStore) RotateToken(ctx context.Context, id, oldHash, newHash string, at time.Time) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, s.q(`UPDATE devices SET token_hash = ? WHERE id = ? AND token_hash = ?`), newHash, id, oldHash)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return ErrNotFound
	}
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM device_tokens WHERE device_id = ?`), id); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO device_tokens (device_id, issued) VALUES (?, ?)`), id, ns(at)); err != nil {
		return err
	}
	return tx.Commit()
}

func (s *sqlStore) StageToken(ctx context.Context, id, currentHash, newHash string, at time.Time) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// The device row is locked (PostgreSQL) for the rest of the transaction,
	// so a promotion or revocation cannot slip in between.
	var got string
	err = tx.QueryRowContext(ctx, s.q(`SELECT id FROM devices WHERE id = ? AND token_hash = ?`+s.forUpdate()), id, currentHash).Scan(&got)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM device_pending_tokens WHERE device_id = ?`), id); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO device_pending_tokens (device_id, token_hash, issued) VALUES (?, ?, ?)`), id, newHash, ns(at)); err != nil {
		return err
	}
	return tx.Commit()
}

// promoteToken makes a staged token (StageToken) the device's token the
// first time it is used, ending the old one; ErrNotFound if h is no staged
// token (or its device was revoked meanwhile).
func (s *sqlStore) promoteToken(ctx context.Context, h string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var id string
	var issued int64
	err = tx.QueryRowContext(ctx, s.q(`SELECT device_id, issued FROM device_pending_tokens WHERE token_hash = ?`), h).Scan(&id, &issued)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, s.q(`UPDATE devices SET token_hash = ? WHERE id = ? AND token_hash NOT LIKE 'revoked:%'`), h, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return ErrNotFound
	}
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM device_pending_tokens WHERE device_id = ? AND token_hash = ?`), id, h); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM device_tokens WHERE device_id = ?`), id); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO device_tokens (device_id, issued) VALUES (?, ?)`), id, issued); err != nil {
		return err
	}
	return tx.Commit()
}

func (s *sqlStore) AddPolicy(ctx context.Context, p StoredPolicy) error {
	_, err := s.exec(ctx, `INSERT INTO policies (version, issued, policy, key_id, signature) VALUES (?, ?, ?, ?, ?)`,
		p.Version, ns(p.Issued), string(p.Policy), p.KeyID, p.Signature)
	if isUnique(err) {
		return ErrExists
	}
	return err
}

func (s *sqlStore) Policies(ctx context.Context) ([]StoredPolicy, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT version, issued, policy, key_id, signature FROM policies ORDER BY version`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []StoredPolicy
	for rows.Next() {
		var p StoredPolicy
		var issued int64
		var body string
		if err := rows.Scan(&p.Version, &issued, &body, &p.KeyID, &p.Signature); err != nil {
			return nil, err
		}
		p.Issued, p.Policy = tm(issued), []byte(body)
		out = append(out, p)
	}
	return out, rows.Err()
}

func (s *sqlStore) ReserveBytes(ctx context.Context, id, day string, n, limit int64) (bool, int64, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, 0, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO device_usage (device_id, day, bytes) VALUES (?, ?, 0) ON CONFLICT DO NOTHING`), id, day); err != nil {
		return false, 0, err
	}
	res, err := tx.ExecContext(ctx, s.q(`UPDATE device_usage SET bytes = bytes + ? WHERE device_id = ? AND day = ? AND bytes + ? <= ?`), n, id, day, n, limit)
	if err != nil {
		return false, 0, err
	}
	var used int64
	if err := tx.QueryRowContext(ctx, s.q(`SELECT bytes FROM device_usage WHERE device_id = ? AND day = ?`), id, day).Scan(&used); err != nil {
		return false, 0, err
	}
	if k, _ := res.RowsAffected(); k != 1 {
		return false, used, tx.Commit()
	}
	return true, used, tx.Commit()
}

// forUpdate locks the selected rows for the transaction on PostgreSQL
// (SQLite has one writer at a time anyway).
func (s *sqlStore) forUpdate() string {
	if s.postgres {
		return " FOR UPDATE"
	}
	return ""
}
