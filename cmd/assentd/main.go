// Command assentd is Assent's sync server: devices upload sealed recordings
// with their consent records; admins answer data-subject requests.
//
//	assentd serve   [flags]   run the server (no flags: SQLite + ./assentd-data on 127.0.0.1:8443)
//	assentd enroll  [flags]   print a one-time device enrolment code
//	assentd purge   [flags]   run the retention purge once
//
// It is pure Go (CGO_ENABLED=0). It never holds a key that decrypts audio.
// See docs/operations.md.
package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/assent-app/assent/assets"
	"github.com/assent-app/assent/consent"
	"github.com/assent-app/assent/sync/server"
	"github.com/assent-app/assent/sync/server/consentpage"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

const usage = `usage: assentd <command> [flags]

commands:
  serve    run the sync server
  enroll   print a one-time enrolment code for a device
  purge    delete recordings whose retention ended, once
  migrate  bring the database schema to this version, once (serve does it too)
  device   list devices, or revoke one: assentd device revoke <device id>
  policy   show the organisation's policy, or set a new version: assentd policy set -controller NAME -contact ADDRESS

Run "assentd <command> -h" for the flags of a command.
`

type common struct {
	data     string
	dsn      string
	s3       string
	s3Bucket string
	s3Region string
}

func (c *common) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.data, "data", defaultDataDir(), "data directory (SQLite index, objects, uploads, secrets)")
	fs.StringVar(&c.dsn, "db", os.Getenv("ASSENTD_DB"), "PostgreSQL DSN (postgres://...); empty: SQLite in the data directory")
	fs.StringVar(&c.s3, "s3-endpoint", os.Getenv("ASSENTD_S3_ENDPOINT"), "S3-compatible endpoint for objects (keys from ASSENTD_S3_ACCESS_KEY/ASSENTD_S3_SECRET_KEY); empty: <data>/objects")
	fs.StringVar(&c.s3Bucket, "s3-bucket", os.Getenv("ASSENTD_S3_BUCKET"), "S3 bucket")
	fs.StringVar(&c.s3Region, "s3-region", envOr("ASSENTD_S3_REGION", "us-east-1"), "S3 region")
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// objects is the object storage: S3 when configured, else the data directory.
func (c *common) objects() (server.Objects, error) {
	if c.s3 == "" {
		return server.LocalObjects{Dir: filepath.Join(c.data, "objects")}, nil
	}
	ak, sk := envOr("ASSENTD_S3_ACCESS_KEY", os.Getenv("AWS_ACCESS_KEY_ID")), envOr("ASSENTD_S3_SECRET_KEY", os.Getenv("AWS_SECRET_ACCESS_KEY"))
	if c.s3Bucket == "" || ak == "" || sk == "" {
		return nil, errors.New("S3 objects need -s3-bucket and the keys in ASSENTD_S3_ACCESS_KEY and ASSENTD_S3_SECRET_KEY")
	}
	return server.NewS3Objects(server.S3Config{Endpoint: c.s3, Bucket: c.s3Bucket, Region: c.s3Region, AccessKey: ak, SecretKey: sk, PathStyle: true})
}

// policyKey is the server's policy-signing key: ASSENTD_POLICY_KEY (base64
// Ed25519 seed; give every replica the same) or <data>/policy-key, created on
// first use.
func (c *common) policyKey() (ed25519.PrivateKey, error) {
	seed := os.Getenv("ASSENTD_POLICY_KEY")
	if seed == "" {
		if err := os.MkdirAll(c.data, 0o700); err != nil {
			return nil, err
		}
		b, _, err := secret(filepath.Join(c.data, "policy-key"), func() []byte {
			k := make([]byte, ed25519.SeedSize)
			rand.Read(k)
			return []byte(base64.StdEncoding.EncodeToString(k))
		})
		if err != nil {
			return nil, fmt.Errorf("policy key: %w", err)
		}
		seed = string(b)
	}
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(seed))
	if err != nil || len(k) != ed25519.SeedSize {
		return nil, errors.New("the policy key (ASSENTD_POLICY_KEY or <data>/policy-key) must be a 32-byte Ed25519 seed in base64")
	}
	return ed25519.NewKeyFromSeed(k), nil
}

func defaultDataDir() string {
	if d := os.Getenv("ASSENTD_DATA"); d != "" {
		return d
	}
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "assentd")
	}
	return "assentd-data"
}

func (c *common) open() (server.Store, error) {
	if err := os.MkdirAll(c.data, 0o700); err != nil {
		return nil, fmt.Errorf("cannot create the data directory %s: %w", c.data, err)
	}
	if c.dsn != "" {
		return server.OpenPostgres(c.dsn)
	}
	return server.OpenSQLite(filepath.Join(c.data, "index.db"))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stdout, stderr)
	case "enroll", "enrol":
		return enroll(args[1:], stdout, stderr)
	case "purge":
		return purge(args[1:], stdout, stderr)
	case "migrate":
		return migrateCmd(args[1:], stdout, stderr) // replicas.go
	case "device":
		return device(args[1:], stdout, stderr)
	case "policy":
		return policy(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "assentd: unknown command %q\n\n%s", args[0], usage)
	return 2
}

func enroll(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("enroll", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.flags(fs)
	ttl := fs.Duration("ttl", 24*time.Hour, "how long the code stays valid")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	st, err := c.open()
	if err != nil {
		fmt.Fprintf(stderr, "assentd enroll: %v\n", err)
		return 1
	}
	defer st.Close()
	code, exp, err := server.NewEnrolmentCode(context.Background(), st, time.Now().Add(*ttl))
	if err != nil {
		fmt.Fprintf(stderr, "assentd enroll: could not store the code: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, code)
	fmt.Fprintf(stderr, "One-time enrolment code, valid until %s. Enter it in Assent (Settings → Sync) or: assent sync --enrol <server URL> --code <code>\n", exp.Format(time.RFC3339))
	return 0
}

// secret reads a secret file of the data directory, creating it with gen if absent.
func secret(path string, gen func() []byte) ([]byte, bool, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return []byte(strings.TrimSpace(string(b))), false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, false, err
	}
	b = gen()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, false, err
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return b, true, err
}

func randText(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return []byte(base64.RawURLEncoding.EncodeToString(b))
}

func serve(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.flags(fs)
	addr := fs.String("addr", "127.0.0.1:8443", "listen address")
	cert := fs.String("tls-cert", "", "TLS certificate (PEM); with -tls-key serves HTTPS")
	key := fs.String("tls-key", "", "TLS private key (PEM)")
	insecure := fs.Bool("allow-insecure-http", false, "allow plain HTTP on a non-loopback address (behind a TLS-terminating proxy only)")
	retention := fs.Int("retention-months", 36, "default retention of recordings whose record names none")
	purgeEvery := fs.Duration("purge-interval", time.Hour, "how often the retention purge runs")
	escrow := fs.String("escrow-recipient", os.Getenv("ASSENTD_ESCROW_RECIPIENT"), "the organisation's age recipient (age1...), served to devices")
	maxSeg := fs.Int64("max-segment-bytes", 64<<20, "largest accepted segment")
	drainWait := fs.Duration("drain-wait", 5*time.Second, "on SIGTERM, how long /readyz answers 503 before the server stops taking requests (give the load balancer time to notice)")
	requireNotices := fs.Bool("require-notice-texts", true, "refuse a consent record registered without the exact notice texts it cites (false only for devices older than stored notice texts)")
	requireSealed := fs.Bool("require-sealed-segments", true, "store only segments that the latest consent record lists in a SegmentSealed event (false only for devices older than record format v2)")
	uploadTTL := fs.Duration("upload-ttl", 24*time.Hour, "incomplete uploads older than this are removed by the sweeper")
	sweepEvery := fs.Duration("sweep-interval", 10*time.Minute, "how often the upload sweeper runs")
	maxConns := fs.Int("max-conns", 1024, "connections served at once")
	forwarded := fs.Bool("forwarded-headers", false, "trust the proxy's X-Forwarded-For (the client address that failed-attempt and consent-page rate limits count) and X-Forwarded-Proto/-Host (upload URLs when -public-url is not set); only behind a proxy that sets them")
	tokenTTL := fs.Duration("token-ttl", 180*24*time.Hour, "how long a device token is valid unless the device rotates it")
	readTimeout := fs.Duration("read-timeout", 60*time.Second, "longest time to read a request (tus upload bodies: -upload-read-timeout per read instead)")
	uploadRead := fs.Duration("upload-read-timeout", 30*time.Second, "an upload body that sends nothing for this long is cut off (the client resumes)")
	publicURL := fs.String("public-url", os.Getenv("ASSENTD_PUBLIC_URL"), "the server's URL as devices and participants reach it (upload URLs and remote consent pages; default: the Host of each request)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "assentd serve: "+format+"\n", a...)
		return 1
	}
	if (*cert == "") != (*key == "") {
		return fail("give both -tls-cert and -tls-key, or neither")
	}
	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		return fail("-addr %q is not host:port: %v", *addr, err)
	}
	if ip := net.ParseIP(host); *cert == "" && !*insecure && (ip == nil || !ip.IsLoopback()) && host != "localhost" {
		return fail("refusing plain HTTP on %s: give -tls-cert and -tls-key, or -allow-insecure-http if a TLS proxy is in front", *addr)
	}
	if *escrow != "" && !strings.HasPrefix(*escrow, "age1") {
		return fail("-escrow-recipient must be an age X25519 recipient (age1...)")
	}
	st, err := c.open()
	if err != nil {
		return fail("%v", err)
	}
	defer st.Close()

	objs, err := c.objects()
	if err != nil {
		return fail("%v", err)
	}
	uploads, closeUploads, err := c.uploads() // replicas.go
	if err != nil {
		return fail("%v", err)
	}
	defer closeUploads()
	pkey, err := c.policyKey()
	if err != nil {
		return fail("%v", err)
	}
	cfg := server.Config{Store: st, Objects: objs, UploadDir: filepath.Join(c.data, "uploads"), Uploads: uploads, PolicyKey: pkey, TokenTTL: *tokenTTL,
		EscrowRecipient: *escrow, RetentionMonths: *retention, MaxSegmentSize: *maxSeg, Logger: log,
		RequireSealedSegments: *requireSealed, RequireNoticeTexts: *requireNotices, PublicURL: *publicURL, ForwardedHeaders: *forwarded, UploadTTL: *uploadTTL, UploadReadTimeout: *uploadRead}
	if err := os.MkdirAll(cfg.UploadDir, 0o700); err != nil {
		return fail("cannot create %s: %v", cfg.UploadDir, err)
	}
	if t := os.Getenv("ASSENTD_ADMIN_TOKEN"); t != "" {
		cfg.AdminToken = t
	} else {
		var token []byte
		h, created, err := secret(filepath.Join(c.data, "admin-token.sha256"), func() []byte {
			token = randText(24)
			s := sha256.Sum256(token)
			return []byte(hex.EncodeToString(s[:]))
		})
		if err != nil {
			return fail("admin token: %v", err)
		}
		if created {
			fmt.Fprintf(stderr, "assentd: generated the admin token (shown once, only its hash is kept in %s):\n%s\n", filepath.Join(c.data, "admin-token.sha256"), token)
		}
		cfg.AdminTokenHash = string(h)
	}
	if s := os.Getenv("ASSENTD_SUBJECT_SALT"); s != "" {
		cfg.SubjectSalt = []byte(s)
	} else {
		salt, _, err := secret(filepath.Join(c.data, "subject-salt"), func() []byte { return randText(32) })
		if err != nil {
			return fail("subject salt: %v", err)
		}
		cfg.SubjectSalt = salt
	}
	srv, err := server.New(cfg)
	if err != nil {
		return fail("%v", err)
	}
	var links consentpage.LinkStore // replicas.go: links in the database, shared by all replicas
	if db, pg, ok := server.SQLDB(st); ok {
		links = consentpage.NewSQLLinks(db, pg, log)
	}
	pages, err := consentpage.New(consentpage.Config{Auth: consentpage.BearerAuth(func(ctx context.Context, tokenHash string) (string, error) {
		d, err := st.DeviceByToken(ctx, tokenHash)
		return d.ID, err
	}, server.ErrNotFound), PublicURL: *publicURL, Logger: log, Links: links,
		// Behind the proxy that -forwarded-headers trusts, each participant
		// is limited as the client the proxy saw, not as the proxy.
		ClientIP: srv.ClientIP})
	if err != nil {
		return fail("remote consent pages: %v", err)
	}
	pages.Register(srv)
	limits := server.Limits{ReadTimeout: *readTimeout, MaxConns: *maxConns}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fail("cannot listen on %s: %v", *addr, err)
	}
	ln = limits.Listen(ln)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go runPurge(ctx, srv, st, *purgeEvery, log) // replicas.go: one replica at a time (lease)
	go runSweep(ctx, srv, st, *sweepEvery, log) // replicas.go: one replica at a time (lease)
	go pages.Run(ctx)
	hs := srv.HTTPServer(limits)
	errc := make(chan error, 1)
	go func() {
		if *cert != "" {
			errc <- hs.ServeTLS(ln, *cert, *key)
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	scheme := "http"
	if *cert != "" {
		scheme = "https"
	}
	log.Info("assentd listening", "url", scheme+"://"+ln.Addr().String(), "data", c.data, "postgres", c.dsn != "")
	fmt.Fprintf(stdout, "listening on %s://%s\n", scheme, ln.Addr().String())
	select {
	case err := <-errc:
		return fail("%v", err)
	case <-ctx.Done():
	}
	shutdown(hs, srv, pages, *drainWait, log) // replicas.go: drain, end streams, finish requests
	log.Info("assentd stopped")
	return 0
}

func purge(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("purge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.flags(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	st, err := c.open()
	if err != nil {
		fmt.Fprintf(stderr, "assentd purge: %v\n", err)
		return 1
	}
	defer st.Close()
	objs, err := c.objects()
	if err != nil {
		fmt.Fprintf(stderr, "assentd purge: %v\n", err)
		return 1
	}
	_, throwaway, _ := ed25519.GenerateKey(rand.Reader) // purging signs nothing
	srv, err := server.New(server.Config{Store: st, Objects: objs, UploadDir: filepath.Join(c.data, "uploads"),
		AdminTokenHash: strings.Repeat("0", 64), SubjectSalt: []byte("purge-needs-no-subject-salt"), PolicyKey: throwaway})
	if err != nil {
		fmt.Fprintf(stderr, "assentd purge: %v\n", err)
		return 1
	}
	ids, err := srv.Purge(context.Background())
	if err != nil {
		fmt.Fprintf(stderr, "assentd purge: %v (purged %d before the error; run it again)\n", err, len(ids))
		return 1
	}
	fmt.Fprintf(stdout, "purged %d recordings\n", len(ids))
	return 0
}

func device(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("device", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.flags(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: assentd device [flags] list\n       assentd device [flags] revoke <device id>")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	rest := fs.Args()
	if len(rest) == 0 || (rest[0] == "revoke" && len(rest) != 2) || (rest[0] != "revoke" && rest[0] != "list") {
		fs.Usage()
		return 2
	}
	st, err := c.open()
	if err != nil {
		fmt.Fprintf(stderr, "assentd device: %v\n", err)
		return 1
	}
	defer st.Close()
	ctx := context.Background()
	if rest[0] == "list" {
		ds, err := st.Devices(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "assentd device list: %v\n", err)
			return 1
		}
		for _, d := range ds {
			state := "active"
			if !d.Revoked.IsZero() {
				state = "revoked " + d.Revoked.Format(time.RFC3339)
			}
			fmt.Fprintf(stdout, "%s\t%s\tenrolled %s\t%s\n", d.ID, d.Name, d.EnrolledAt.Format(time.RFC3339), state)
		}
		return 0
	}
	if err := server.RevokeDevice(ctx, st, rest[1], "assentd device revoke", time.Now()); errors.Is(err, server.ErrNotFound) {
		fmt.Fprintf(stderr, "assentd device revoke: no device %q; see assentd device list\n", rest[1])
		return 1
	} else if err != nil {
		fmt.Fprintf(stderr, "assentd device revoke: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "revoked %s: its token no longer works; its recordings stay on the server\n", rest[1])
	return 0
}

func policy(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("policy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.flags(fs)
	var req server.PolicyRequest
	fs.StringVar(&req.NoticeID, "notice-id", "", "notice template id (default: the default notice)")
	fs.StringVar(&req.NoticeVersion, "notice-version", "", "notice template version (default: the newest)")
	fs.StringVar(&req.Org.Controller, "controller", "", "the organisation that decides about the recordings (required)")
	fs.StringVar(&req.Org.Contact, "contact", "", "e-mail address or URL for privacy questions and rights requests (required)")
	fs.IntVar(&req.Org.RetentionMonths, "retention-months", 0, "how long recordings are kept (default 36)")
	fs.IntVar(&req.Org.MinAge, "min-age", 0, "minimum age of participants, 13–18 (default 16)")
	fs.StringVar(&req.Org.Processor, "processor", "", "who processes the recordings for the organisation")
	fs.StringVar(&req.Org.StorageLocation, "storage-location", "", "where recordings are stored")
	fs.StringVar(&req.Org.Transfer, "transfer", "", "cross-border transfer statement")
	fs.StringVar(&req.Org.SupervisoryAuthority, "authority", "", "where participants can complain")
	fs.StringVar(&req.Org.Jurisdiction, "jurisdiction", "", "legal system of the organisation, e.g. EU")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: assentd policy show [flags]\n       assentd policy set -controller NAME -contact ADDRESS [flags]")
		fs.PrintDefaults()
	}
	if len(args) == 0 || (args[0] != "show" && args[0] != "set") {
		fs.Usage()
		return 2
	}
	verb := args[0]
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	st, err := c.open()
	if err != nil {
		fmt.Fprintf(stderr, "assentd policy: %v\n", err)
		return 1
	}
	defer st.Close()
	key, err := c.policyKey()
	if err != nil {
		fmt.Fprintf(stderr, "assentd policy: %v\n", err)
		return 1
	}
	ctx := context.Background()
	if verb == "show" {
		ps, err := st.Policies(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "assentd policy show: %v\n", err)
			return 1
		}
		if len(ps) == 0 {
			fmt.Fprintln(stderr, "no policy is set: devices cannot sync recordings until you run assentd policy set -controller NAME -contact ADDRESS")
			return 1
		}
		last := ps[len(ps)-1]
		fmt.Fprintf(stdout, "version %d, issued %s\n%s\n", last.Version, last.Issued.Format(time.RFC3339), last.Policy)
		return 0
	}
	ans, err := server.SetPolicy(ctx, st, key, consent.NewLibrary(assets.Notices()), req, time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "assentd policy set: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "policy version %d issued (%s); devices fetch it on their next sync\n", ans.Version, ans.Hash)
	return 0
}
