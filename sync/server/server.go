package server

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	gosync "sync"
	"sync/atomic"
	"time"

	"github.com/assent-app/assent/assets"
	"github.com/assent-app/assent/consent"
	"github.com/assent-app/assent/sync/api"
	"github.com/assent-app/assent/sync/server/bucket"

	tusd "github.com/tus/tusd/v2/pkg/handler"
	xslog "golang.org/x/exp/slog"
)

// Config configures a Server. Store, Objects, UploadDir, AdminToken
// and SubjectSalt are required.
type Config struct {
	Store     Store
	Objects   Objects
	UploadDir string      // tusd's working directory for uploads in progress
	Uploads   UploadStore // uploads.go: uploads in S3 and a shared lock for replicas; zero: UploadDir, one process
	Verify    Verifier    // consent-record verification; ConsentVerify if nil

	AdminToken      string // bearer token of the admin API (kept only as a hash)
	AdminTokenHash  string // or: hex SHA-256 of that token (as `assentd serve` keeps it)
	SubjectSalt     []byte // secret salt for subject (e-mail) hashes; keep it stable
	EscrowRecipient string // the organisation's age recipient, served to devices

	RetentionMonths  int   // default retention; 36 if zero
	MaxSegmentSize   int64 // largest accepted segment; 64 MiB if zero
	EnrolmentCodeTTL time.Duration
	UploadTTL        time.Duration // incomplete uploads older than this are swept; 24 h if zero
	// UploadReadTimeout ends a tus PATCH whose body sends nothing for this
	// long (each read gets this much time); 30 s if zero.
	UploadReadTimeout time.Duration
	// MaxUploadsPerDevice caps a device's tus uploads in progress (32 if
	// zero); MaxBytesPerDevicePerDay caps the bytes of uploads a device
	// starts per UTC day (4 GiB if zero). Beyond either: 429.
	MaxUploadsPerDevice     int
	MaxBytesPerDevicePerDay int64
	// TokenTTL is how long a device token is valid after it was issued;
	// devices rotate it (POST /v1/device/token) before then. 180 days if zero.
	TokenTTL time.Duration
	// FailEvery and FailBurst rate-limit failed admin and enrolment
	// attempts per client address; 6 s and 10 if zero. On an SQL store the
	// count is in the database, shared by every replica.
	FailEvery time.Duration
	FailBurst int
	// PublicURL is the server's URL as clients reach it (e.g. behind a
	// TLS-terminating proxy: https://sync.example.org); upload URLs
	// (tus Location) are built on it. Empty: from each request's Host.
	PublicURL string
	// ForwardedHeaders builds upload URLs from X-Forwarded-Proto/-Host
	// (and Forwarded) when PublicURL is empty: only behind a proxy that sets them.
	ForwardedHeaders bool
	// PolicyKey signs the organisation's policy versions. assentd serve
	// always gives the persistent one; if nil (tests of other features) an
	// ephemeral key is made, and policies stored under another key fail to
	// open after a restart.
	PolicyKey ed25519.PrivateKey
	// Notices renders policies into notice texts; the shipped notices if nil.
	Notices *consent.Library
	// RequireSealedSegments refuses segments that the latest consent record
	// does not list in a SegmentSealed event (see sealed.go). Off by default
	// until every device writes SegmentSealed events.
	RequireSealedSegments bool
	// RequireNoticeTexts refuses a consent record registered without the
	// exact notice texts it cites (422 notice-texts-missing), so the server
	// can always show what each participant was told. Off by default in
	// the Go API; assentd turns it on (-require-notice-texts) and turns it
	// off only for devices older than stored notice texts.
	RequireNoticeTexts bool
	Logger             *slog.Logger
	Now                func() time.Time
}

// Server is assentd's HTTP API.
type Server struct {
	cfg       Config
	adminHash [32]byte
	log       *slog.Logger
	now       func() time.Time
	tus       *tusd.Handler
	tusStore  tusBackend  // uploads.go
	locker    tusd.Locker // the same locker tusd uses: terminateUpload asks a PATCH in flight to let go
	locks     recLocks
	fails     failLimits

	policyMu    gosync.Mutex
	policyCache map[int]policyVersion
	mux         *http.ServeMux
	metrics     *metrics
	draining    atomic.Bool // health.go: set by Drain, read by /readyz
}

// New builds a Server from cfg.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("server: Config.Store is required")
	case cfg.Objects == nil:
		return nil, errors.New("server: Config.Objects is required")
	case cfg.UploadDir == "":
		return nil, errors.New("server: Config.UploadDir is required")
	case cfg.AdminToken != "" && !strongAdminToken(cfg.AdminToken):
		return nil, errors.New("server: the admin token is too weak: use at least 20 characters with at least 8 different ones (for example: openssl rand -base64 24)")
	case cfg.AdminToken == "" && len(cfg.AdminTokenHash) != 64:
		return nil, errors.New("server: an admin token is required (or give its SHA-256 in AdminTokenHash)")
	case cfg.PolicyKey != nil && len(cfg.PolicyKey) != ed25519.PrivateKeySize:
		return nil, errors.New("server: Config.PolicyKey must be an Ed25519 private key")
	case len(cfg.SubjectSalt) < 16:
		return nil, errors.New("server: the subject salt must be at least 16 bytes")
	}
	if cfg.Verify == nil {
		cfg.Verify = ConsentVerify
	}
	if cfg.RetentionMonths <= 0 {
		cfg.RetentionMonths = 36
	}
	if cfg.MaxSegmentSize <= 0 {
		cfg.MaxSegmentSize = 64 << 20
	}
	if cfg.EnrolmentCodeTTL <= 0 {
		cfg.EnrolmentCodeTTL = 24 * time.Hour
	}
	if cfg.PolicyKey == nil {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		cfg.PolicyKey = k
	}
	if cfg.Notices == nil {
		cfg.Notices = consent.NewLibrary(assets.Notices())
	}
	if cfg.MaxUploadsPerDevice <= 0 {
		cfg.MaxUploadsPerDevice = 32
	}
	if cfg.MaxBytesPerDevicePerDay <= 0 {
		cfg.MaxBytesPerDevicePerDay = 4 << 30
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = 180 * 24 * time.Hour
	}
	if cfg.FailEvery <= 0 {
		cfg.FailEvery = 6 * time.Second
	}
	if cfg.FailBurst <= 0 {
		cfg.FailBurst = 10
	}
	if cfg.UploadReadTimeout <= 0 {
		cfg.UploadReadTimeout = 30 * time.Second
	}
	if cfg.UploadTTL <= 0 {
		cfg.UploadTTL = 24 * time.Hour
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{cfg: cfg, adminHash: sha256.Sum256([]byte(cfg.AdminToken)), log: cfg.Logger, now: cfg.Now, metrics: newMetrics(),
		fails: failLimits{every: cfg.FailEvery, burst: cfg.FailBurst}, policyCache: map[int]policyVersion{}}
	if rl, ok := cfg.Store.(RecordingLocker); ok {
		s.locks.shared = rl
	}
	s.locks.log = func(msg string, err error) { s.log.Warn(msg, "err", err.Error()) }
	s.fails.log = func(msg string, err error) { s.log.Error(msg, "err", err.Error()) }
	if db, pg, ok := SQLDB(cfg.Store); ok {
		s.fails.shared = bucket.NewSQL(db, pg) // devices.go: failed attempts counted across replicas
	}
	if cfg.AdminToken == "" {
		if _, err := hex.Decode(s.adminHash[:], []byte(cfg.AdminTokenHash)); err != nil {
			return nil, errors.New("server: AdminTokenHash must be 64 hex digits")
		}
	}
	s.cfg.AdminToken = ""

	tusStore, locker, err := newTusBackend(cfg) // uploads.go
	if err != nil {
		return nil, fmt.Errorf("server: uploads: %w", err)
	}
	s.tusStore = tusStore
	composer := tusd.NewStoreComposer()
	s.tusStore.UseIn(composer)
	composer.UsesLengthDeferrer = false // segments are sealed: Upload-Length is always known (so creation-defer-length is not advertised)
	s.locker = locker
	composer.UseLocker(locker)
	h, err := tusd.NewHandler(tusd.Config{
		BasePath:                   uploadBase(cfg.PublicURL),
		RespectForwardedHeaders:    cfg.ForwardedHeaders,
		StoreComposer:              composer,
		MaxSize:                    cfg.MaxSegmentSize,
		DisableDownload:            true,
		DisableConcatenation:       true,
		NetworkTimeout:             cfg.UploadReadTimeout,
		Logger:                     xslog.New(xslog.NewJSONHandler(io.Discard, nil)),
		PreUploadCreateCallback:    s.preCreate,
		PreFinishResponseCallback:  s.preFinish,
		PreUploadTerminateCallback: s.preTerminate,
	})
	if err != nil {
		return nil, fmt.Errorf("start tus handler: %w", err)
	}
	s.tus = h
	s.routes()
	return s, nil
}

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /healthz", s.livez) // health.go: liveness
	m.HandleFunc("GET /readyz", s.readyz) // health.go: readiness (database, objects, migrations, draining)
	m.HandleFunc("GET /metrics", s.metrics.serve)
	m.HandleFunc("POST /v1/enrol", s.enrol)
	m.HandleFunc("GET /v1/escrow", s.device(s.escrow))
	m.HandleFunc("POST /v1/recordings", s.device(s.register))
	m.HandleFunc("GET /v1/recordings", s.device(s.listOwn))
	m.HandleFunc("GET /v1/recordings/{id}", s.device(s.status))
	m.HandleFunc("PUT /v1/recordings/{id}/final", s.device(s.finalise))
	m.HandleFunc("DELETE /v1/recordings/{id}", s.device(s.deleteOwn))
	m.HandleFunc("GET /v1/recordings/{id}/segments/{index}", s.device(s.download))
	m.HandleFunc("POST /v1/recordings/{id}/segments/{index}/commit", s.device(s.commitEndpoint))
	m.Handle("/v1/uploads/", s.deviceHandler(s.ownUpload(tusProblems(http.StripPrefix("/v1/uploads/", s.tus)))))

	m.HandleFunc("POST /v1/admin/enrolment-codes", s.admin(s.newCode))
	m.HandleFunc("POST /v1/admin/subjects/recordings", s.admin(s.subjectList))
	m.HandleFunc("POST /v1/admin/subjects/export", s.admin(s.subjectExport))
	m.HandleFunc("POST /v1/admin/subjects/erase", s.admin(s.subjectErase))
	m.HandleFunc("POST /v1/admin/subjects/restrict", s.admin(s.subjectRestrict))
	m.HandleFunc("POST /v1/admin/subjects/lift-restriction", s.admin(s.subjectLift))
	m.HandleFunc("GET /v1/admin/recordings/{id}/record", s.admin(s.adminRecord))
	m.HandleFunc("POST /v1/admin/retention/purge", s.admin(s.purgeEndpoint))
	m.HandleFunc("GET /v1/admin/audit", s.admin(s.auditList))
	m.HandleFunc("GET /v1/admin/devices", s.admin(s.adminDevices))
	m.HandleFunc("POST /v1/admin/devices/{id}/revoke", s.admin(s.adminRevoke))
	m.HandleFunc("POST /v1/device/token", s.device(s.rotateToken))
	m.HandleFunc("GET /v1/policy", s.device(s.getPolicy))
	m.HandleFunc("GET /v1/admin/policy", s.admin(s.adminGetPolicy))
	m.HandleFunc("PUT /v1/admin/policy", s.admin(s.adminSetPolicy))
	m.HandleFunc("/", s.notFound)
	s.mux = m
}

// uploadBase is tusd's BasePath: absolute on PublicURL when given.
func uploadBase(public string) string {
	if public == "" {
		return "/v1/uploads/"
	}
	return strings.TrimRight(public, "/") + "/v1/uploads/"
}

// notFound answers what no route matched: 405 with Allow when the path is
// an API route taking other methods, else 404.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "/" && pattern != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		problem(w, http.StatusMethodNotAllowed, "method-not-allowed", "Method not allowed",
			r.Method+" is not allowed on "+r.URL.Path+"; it takes "+strings.Join(allow, ", ")+". See docs/server-api.md.")
		return
	}
	problem(w, http.StatusNotFound, "not-found", "No such endpoint", r.Method+" "+r.URL.Path+" is not part of the Assent sync API; see docs/server-api.md.")
}

// Handle lets later features (remote consent pages) add routes.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Handler returns the HTTP handler of the whole API.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: 200}
		defer func() {
			if v := recover(); v != nil {
				s.log.Error("panic in handler", "path", routeLabel(r), "panic", fmt.Sprint(v))
				problem(sw, http.StatusInternalServerError, "internal", "Internal error", "The server hit a bug; the request was not applied. Retry later and report it to the administrator.")
			}
			d := time.Since(start)
			s.metrics.observe(routeLabel(r), r.Method, sw.code, d)
			s.log.Info("request", "method", methodLabel(r.Method), "route", routeLabel(r), "status", sw.code, "ms", d.Milliseconds())
		}()
		s.mux.ServeHTTP(sw, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(c int)           { w.code = c; w.ResponseWriter.WriteHeader(c) }
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// routeLabel is the matched route pattern, so metrics and logs carry no identifiers.
func routeLabel(r *http.Request) string {
	if r.Pattern == "" {
		return "unmatched"
	}
	return r.Pattern
}

// ---- errors -------------------------------------------------------------

type problemDoc = api.Problem

func problemBody(status int, slug, title, detail string) []byte {
	return api.NewProblem(status, slug, title, detail).Body()
}

// problem writes an RFC 9457 problem+json response (api.Problem).
func problem(w http.ResponseWriter, status int, slug, title, detail string) {
	api.NewProblem(status, slug, title, detail).Write(w)
}

func tusProblem(status int, slug, title, detail string) tusd.Error {
	return tusd.Error{ErrorCode: slug, Message: detail, HTTPResponse: tusd.HTTPResponse{
		StatusCode: status, Body: string(problemBody(status, slug, title, detail)),
		Header: tusd.HTTPHeader{"Content-Type": "application/problem+json"},
	}}
}

func (s *Server) internal(w http.ResponseWriter, what string, err error) {
	s.log.Error(what, "err", err.Error())
	problem(w, http.StatusInternalServerError, "internal", "Internal error", what+" failed on the server; nothing was changed by this request. Retry later; if it persists, the administrator should check the server log.")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

const maxJSON = 8 << 20

// readJSON decodes a JSON body strictly; on failure it has written the problem.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		problem(w, http.StatusUnsupportedMediaType, "bad-content-type", "Body must be JSON", "Send the body as application/json (got "+strconv.Quote(ct)+").")
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJSON))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			problem(w, http.StatusRequestEntityTooLarge, "too-large", "Body too large", fmt.Sprintf("The body is larger than %d bytes, the most this endpoint accepts.", tooBig.Limit))
			return false
		}
		problem(w, http.StatusBadRequest, "bad-json", "Malformed JSON body", "The request body is not valid for this endpoint: "+err.Error()+". See docs/server-api.md for the expected fields.")
		return false
	}
	if dec.More() {
		problem(w, http.StatusBadRequest, "bad-json", "Malformed JSON body", "The body holds more than one JSON value; send exactly one object.")
		return false
	}
	return true
}

// ---- auth -----------------------------------------------------------------

type ctxKey int

const deviceKey ctxKey = 1

func hashToken(t string) string {
	h := sha256.Sum256([]byte(t))
	return hex.EncodeToString(h[:])
}

func bearer(h http.Header) string {
	a := h.Get("Authorization")
	if len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		return strings.TrimSpace(a[7:])
	}
	return ""
}

func (s *Server) authDevice(r *http.Request) (Device, error) {
	t := bearer(r.Header)
	if t == "" {
		return Device{}, ErrNotFound
	}
	return s.cfg.Store.DeviceByToken(r.Context(), hashToken(t))
}

func (s *Server) deviceHandler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, err := s.authDevice(r)
		if errors.Is(err, ErrNotFound) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="assentd"`)
			problem(w, http.StatusUnauthorized, "unauthenticated", "Device not authenticated", "Send the device token from enrolment as 'Authorization: Bearer <token>'. If the device was never enrolled or was removed, enrol it again with a code from your administrator.")
			return
		}
		if err != nil {
			s.internal(w, "checking the device token", err)
			return
		}
		if expired, _, err := s.tokenExpired(r.Context(), d); err != nil {
			s.internal(w, "checking the device token", err)
			return
		} else if expired {
			w.Header().Set("WWW-Authenticate", `Bearer realm="assentd", error="invalid_token"`)
			problem(w, http.StatusUnauthorized, "token-expired", "Device token expired",
				"This device's token is older than the server allows and was not rotated in time. Enrol the device again with a code from your administrator.")
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), deviceKey, d)))
	})
}

func (s *Server) device(f func(http.ResponseWriter, *http.Request, Device)) http.HandlerFunc {
	return s.deviceHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f(w, r, r.Context().Value(deviceKey).(Device))
	})).ServeHTTP
}

func (s *Server) admin(f http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		give, ok := s.failAttempt(w, r) // devices.go: counted across replicas
		if !ok {
			return
		}
		t := bearer(r.Header)
		h := sha256.Sum256([]byte(t))
		if t == "" || subtle.ConstantTimeCompare(h[:], s.adminHash[:]) != 1 {
			s.audit(r.Context(), "anonymous", "admin.auth-failed", "", routeLabel(r))
			w.Header().Set("WWW-Authenticate", `Bearer realm="assentd-admin"`)
			problem(w, http.StatusUnauthorized, "unauthenticated", "Admin not authenticated", "Send the admin token configured for assentd (ASSENTD_ADMIN_TOKEN) as 'Authorization: Bearer <token>'.")
			return
		}
		give()
		f(w, r)
	}
}

// subjectHash is the index key of a person: HMAC-SHA256(salt, normalised e-mail).
func (s *Server) subjectHash(email string) string {
	m := hmac.New(sha256.New, s.cfg.SubjectSalt)
	m.Write([]byte(NormaliseEmail(email)))
	return hex.EncodeToString(m.Sum(nil))
}

// NormaliseEmail trims and lower-cases an address so lookups match records.
func NormaliseEmail(e string) string { return strings.ToLower(strings.TrimSpace(e)) }

func randomToken(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Objects returns the object storage (for tools and tests).
func (s *Server) Objects() Objects { return s.cfg.Objects }
