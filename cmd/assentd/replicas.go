package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/assent-app/assent/sync/server"
	"github.com/assent-app/assent/sync/server/consentpage"
)

// holderID names this process in leases (host, pid and a random part, so a
// restarted process is a new holder).
func holderID() string {
	h, _ := os.Hostname()
	b := make([]byte, 4)
	rand.Read(b)
	return h + "/" + hex.EncodeToString(b)
}

// runPurge runs the retention purge every interval on one replica at a
// time: a lease in the database, held for at most an hour per run.
func runPurge(ctx context.Context, srv *server.Server, st server.Store, every time.Duration, log *slog.Logger) {
	server.RunLeased(ctx, st, "retention-purge", holderID(), every, time.Hour,
		func(err error) { log.Error("retention purge failed; will retry", "err", err.Error()) },
		func(ctx context.Context) error { _, err := srv.Purge(ctx); return err })
}

// runSweep runs the upload sweeper on one replica at a time (lease).
func runSweep(ctx context.Context, srv *server.Server, st server.Store, every time.Duration, log *slog.Logger) {
	server.RunLeased(ctx, st, "upload-sweep", holderID(), every, time.Hour,
		func(err error) { log.Error("upload sweep failed; will retry", "err", err.Error()) },
		func(ctx context.Context) error { _, err := srv.Sweep(ctx); return err })
}

// shutdown stops a replica gracefully: /readyz turns 503 (the load balancer
// stops sending new requests), after drainWait the consent event streams end
// (devices reconnect with Last-Event-ID to another replica), then the HTTP
// server stops taking connections and finishes the requests in flight.
func shutdown(hs *http.Server, srv *server.Server, pages *consentpage.Handler, drainWait time.Duration, log *slog.Logger) {
	log.Info("assentd draining", "wait_s", drainWait.Seconds())
	srv.Drain()
	time.Sleep(drainWait)
	pages.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := hs.Shutdown(ctx); err != nil {
		log.Error("requests still running after 30 s were cut off", "err", err.Error())
	}
}

// uploads is where uploads in progress live: with S3 configured, in the
// bucket (any replica continues any upload); with PostgreSQL, locked across
// replicas by advisory locks. Else the data directory, locked in-process.
func (c *common) uploads() (server.UploadStore, func(), error) {
	var u server.UploadStore
	closeFn := func() {}
	if c.s3 != "" {
		ak, sk := envOr("ASSENTD_S3_ACCESS_KEY", os.Getenv("AWS_ACCESS_KEY_ID")), envOr("ASSENTD_S3_SECRET_KEY", os.Getenv("AWS_SECRET_ACCESS_KEY"))
		u.S3 = &server.S3Config{Endpoint: c.s3, Bucket: c.s3Bucket, Region: c.s3Region, AccessKey: ak, SecretKey: sk, PathStyle: true}
	}
	if c.dsn != "" {
		l, err := server.NewPGUploadLocker(c.dsn, 64)
		if err != nil {
			return u, closeFn, err
		}
		u.Locker, closeFn = l, func() { l.Close() }
	}
	return u, closeFn, nil
}

// migrateCmd brings the database schema to this build's version and exits
// (every `serve` does the same at start; this runs it ahead of a rollout).
func migrateCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.flags(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	st, err := c.open()
	if err != nil {
		fmt.Fprintf(stderr, "assentd migrate: %v\n", err)
		return 1
	}
	defer st.Close()
	v, err := server.SchemaVersion(context.Background(), st)
	if err != nil {
		fmt.Fprintf(stderr, "assentd migrate: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "database schema at version %d (this assentd needs %d)\n", v, server.LatestSchema())
	return 0
}
