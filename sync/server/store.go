package server

import (
	"context"
	"errors"
	"time"
)

// Errors a Store returns; callers compare with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
)

// Device is an enrolled device.
type Device struct {
	ID           string
	Name         string
	SigningKey   []byte // Ed25519 public key
	AgeRecipient string
	TokenHash    string // hex SHA-256 of the bearer token
	EnrolledAt   time.Time
	Revoked      time.Time // zero unless revoked (Devices only)
}

// Recording is the index entry of one recording. The consent record itself
// is kept in object storage (it names people); the index keeps only hashes.
type Recording struct {
	ID          string
	DeviceID    string
	CreatedAt   time.Time
	FinalisedAt time.Time // zero until finalised
	RetainUntil time.Time
	Segments    int // number of segments named at finalisation
}

// Finalised reports whether the recording was finalised.
func (r Recording) Finalised() bool { return !r.FinalisedAt.IsZero() }

// Segment is one stored ciphertext segment of a recording.
type Segment struct {
	RecordingID string
	Index       int
	Size        int64
	SHA256      string // hex
}

// AuditEntry is one admin action. Subject holds a salted hash, never an address.
type AuditEntry struct {
	Time    time.Time
	Actor   string
	Action  string
	Subject string
	Detail  string
}

// Store is the index. Every method is safe for concurrent use and, for the
// SQL stores, for use by several assentd instances sharing one database.
type Store interface {
	ServerStore // store_server.go
	AddEnrolmentCode(ctx context.Context, codeHash string, expires time.Time) error
	// UseEnrolmentCode consumes a code once; ErrNotFound if unknown, used or expired.
	UseEnrolmentCode(ctx context.Context, codeHash string, now time.Time) error
	AddDevice(ctx context.Context, d Device) error
	DeviceByToken(ctx context.Context, tokenHash string) (Device, error)
	Device(ctx context.Context, id string) (Device, error)

	// AddRecording adds r with the subject hashes of its principals; ErrExists if the id is taken.
	AddRecording(ctx context.Context, r Recording, subjects []string) error
	Recording(ctx context.Context, id string) (Recording, error)
	Recordings(ctx context.Context, deviceID string) ([]Recording, error)
	// AddSubjects adds subject hashes to the recording's index entry (those
	// already there stay: the index is the union over every accepted record version).
	AddSubjects(ctx context.Context, id string, subjects []string) error
	// Finalise marks r finalised and adds its subjects.
	Finalise(ctx context.Context, id string, at, retainUntil time.Time, segments int, subjects []string) error
	// DeleteRecording removes the recording, its segments and subjects and
	// leaves a tombstone of its id; ErrNotFound if absent.
	DeleteRecording(ctx context.Context, id string) error
	// Deleted reports whether a recording with this id was deleted (tombstone),
	// so an erased recording is never accepted again.
	Deleted(ctx context.Context, id string) (bool, error)

	// PutSegment records a stored segment; putting the same (index, sha256) again is a no-op,
	// a different hash for a stored index is ErrExists.
	PutSegment(ctx context.Context, s Segment) error
	Segments(ctx context.Context, recordingID string) ([]Segment, error)

	RecordingsBySubject(ctx context.Context, subject string) ([]Recording, error)
	SetRestricted(ctx context.Context, subject string, restricted bool) error
	// Restricted reports whether any principal of the recording is restricted.
	Restricted(ctx context.Context, recordingID string) (bool, error)
	Expired(ctx context.Context, now time.Time) ([]Recording, error)

	AddAudit(ctx context.Context, e AuditEntry) error
	Audit(ctx context.Context, limit int) ([]AuditEntry, error)

	Ping(ctx context.Context) error
	Close() error
}
