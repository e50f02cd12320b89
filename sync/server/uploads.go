package server

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/tus/tusd/v2/pkg/filestore"
	tusd "github.com/tus/tusd/v2/pkg/handler"
	"github.com/tus/tusd/v2/pkg/memorylocker"
	"github.com/tus/tusd/v2/pkg/s3store"
)

// Uploads in progress.
//
// One assentd keeps them in a local directory (tusd's filestore). Replicas
// keep them where every replica reaches them: in the S3 bucket, through
// tusd's s3store (multipart uploads; the bytes of a PATCH below S3's 5 MiB
// part minimum wait in a ".part" object), with the upload's info in an
// ".info" object, all under "uploads/". A PATCH can then go to any replica;
// the SHA-256 check when the upload finishes reads the finished object and is
// unchanged. Two PATCHes of one upload never run at once on any replica:
// the upload lock is a PostgreSQL advisory lock (PGUploadLocker), released
// by PostgreSQL itself when the holding replica dies.

// tusBackend is what the server needs of a tus store.
type tusBackend interface {
	tusd.DataStore
	tusd.TerminaterDataStore
	UseIn(*tusd.StoreComposer)
}

// UploadStore chooses where uploads in progress live (Config.Uploads).
type UploadStore struct {
	// S3, when set, keeps uploads in this bucket (under "uploads/"); else
	// Config.UploadDir on local disk.
	S3 *S3Config
	// Locker locks one upload against concurrent PATCHes; default: in this
	// process only (memorylocker). Replicas need NewPGUploadLocker.
	Locker tusd.Locker
}

// newTusBackend builds the tus store of cfg.
func newTusBackend(cfg Config) (tusBackend, tusd.Locker, error) {
	locker := cfg.Uploads.Locker
	if locker == nil {
		locker = memorylocker.New()
	}
	if cfg.Uploads.S3 == nil {
		return filestore.New(cfg.UploadDir), locker, nil
	}
	c := cfg.Uploads.S3
	if c.Endpoint == "" || c.Bucket == "" || c.AccessKey == "" || c.SecretKey == "" {
		return nil, nil, errors.New("uploads in S3 need the endpoint, bucket and keys (the same as the objects')")
	}
	region := c.Region
	if region == "" {
		region = "us-east-1"
	}
	client := s3.New(s3.Options{
		Region:                     region,
		BaseEndpoint:               aws.String(c.Endpoint),
		UsePathStyle:               c.PathStyle,
		Credentials:                credentials.NewStaticCredentialsProvider(c.AccessKey, c.SecretKey, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
	st := s3store.New(c.Bucket, client)
	st.ObjectPrefix = "uploads/"
	st.MetadataObjectPrefix = "uploads/"
	// Segments are small (seconds of Opus): one part each, no waiting.
	st.MinPartSize = 5 << 20
	st.PreferredPartSize = 8 << 20
	if cfg.UploadDir != "" {
		if err := os.MkdirAll(cfg.UploadDir, 0o700); err != nil {
			return nil, nil, err
		}
		st.TemporaryDirectory = cfg.UploadDir // buffers of a PATCH in flight only
	}
	return st, locker, nil
}

// PGUploadLocker locks uploads with PostgreSQL session advisory locks, so a
// PATCH on one replica waits for a PATCH of the same upload on another. A
// lock lives on its own connection of a small pool of its own (so waiting
// uploads never starve the index of connections); if the replica dies, its
// connections close and PostgreSQL releases its locks.
type PGUploadLocker struct {
	db *sql.DB
}

// NewPGUploadLocker opens the lock pool on dsn (at most maxConns uploads in
// progress hold a lock at once on this replica).
func NewPGUploadLocker(dsn string, maxConns int) (*PGUploadLocker, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("open PostgreSQL for upload locks: %w", err)
	}
	if maxConns <= 0 {
		maxConns = 64
	}
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(4)
	return &PGUploadLocker{db: db}, nil
}

// Close closes the lock pool.
func (l *PGUploadLocker) Close() error { return l.db.Close() }

func (l *PGUploadLocker) NewLock(id string) (tusd.Lock, error) {
	h := fnv.New64a()
	h.Write([]byte("assent-upload:" + id))
	return &pgLock{db: l.db, key: int64(h.Sum64())}, nil
}

type pgLock struct {
	db   *sql.DB
	key  int64
	conn *sql.Conn
}

func (p *pgLock) Lock(ctx context.Context, requestUnlock func()) error {
	conn, err := p.db.Conn(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return tusd.ErrLockTimeout
		}
		return err
	}
	for {
		var ok bool
		if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, p.key).Scan(&ok); err != nil {
			conn.Close()
			if ctx.Err() != nil {
				return tusd.ErrLockTimeout
			}
			return err
		}
		if ok {
			p.conn = conn
			return nil
		}
		select {
		case <-ctx.Done():
			conn.Close()
			return tusd.ErrLockTimeout
		case <-time.After(25 * time.Millisecond):
		}
	}
}

func (p *pgLock) Unlock() error {
	if p.conn == nil {
		return nil
	}
	_, err := p.conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1)`, p.key)
	p.conn.Close()
	p.conn = nil
	return err
}
