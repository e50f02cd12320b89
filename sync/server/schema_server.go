package server

// Schema additions for device revocation, token lifetime, quotas and the
// organisation's policy: migration 4 (sync/server/migrate.go). Every
// statement is idempotent.
var serverSchema = []string{
	// A revoked device: its token hash in devices is replaced by
	// "revoked:<id>" (so no token matches); this row keeps when and why.
	`CREATE TABLE IF NOT EXISTS device_revocations (device_id TEXT PRIMARY KEY, revoked BIGINT NOT NULL, reason TEXT NOT NULL)`,
	// When the device's current token was issued (rotation replaces it);
	// a device without a row has the token it got at enrolment.
	`CREATE TABLE IF NOT EXISTS device_tokens (device_id TEXT PRIMARY KEY, issued BIGINT NOT NULL)`,
	// Bytes of segment uploads a device started per UTC day (the daily quota).
	`CREATE TABLE IF NOT EXISTS device_usage (device_id TEXT NOT NULL, day TEXT NOT NULL, bytes BIGINT NOT NULL, PRIMARY KEY (device_id, day))`,
	// The organisation's policy versions, each as the exact signed bytes.
	`CREATE TABLE IF NOT EXISTS policies (version INTEGER PRIMARY KEY, issued BIGINT NOT NULL, policy TEXT NOT NULL, key_id TEXT NOT NULL, signature TEXT NOT NULL)`,
}
