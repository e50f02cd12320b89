package sync

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	gosync "sync"
	"sync/atomic"
	"time"

	"github.com/assent-app/assent/consent"
	"github.com/assent-app/assent/internal/crashpoint"
	"github.com/assent-app/assent/sync/api"
)

// Config configures a Client.
type Config struct {
	Server    string  // base URL of assentd, e.g. https://sync.example.org
	Token     string  // device token from Enrol
	Library   Library // the local recordings
	OutboxDir string  // where the outbox state lives (created if missing)

	HTTPClient     *http.Client
	BandwidthLimit int64          // bytes per second of segment uploads; 0 = no cap
	OnProgress     func(Progress) // called after every change of a recording's progress
	Logger         *slog.Logger
	PollInterval   time.Duration // Run: pause between passes with nothing to do; default 10 s
	MinBackoff     time.Duration // Run: first pause after a failure; default 1 s
	MaxBackoff     time.Duration // Run: longest pause after failures; default 5 min

	// PolicyPath, if set, is where every pass saves the organisation's
	// signed policy (internal/config.PolicyPath); PolicyKey is the server's
	// policy public key from enrolment, which every policy must verify against.
	PolicyPath string
	PolicyKey  ed25519.PublicKey

	// OnTokenRotated, if set, keeps a renewed device token (token.go);
	// the client renews its token every RotateEvery (default 30 days; < 0: never).
	OnTokenRotated func(token string) error
	RotateEvery    time.Duration
}

// Phase is where a recording stands in sync.
type Phase string

// Phases of Progress.
const (
	PhaseRegistering Phase = "registering"
	PhaseUploading   Phase = "uploading"
	PhaseWaiting     Phase = "waiting" // all sealed segments uploaded; recording still going
	PhaseFinalising  Phase = "finalising"
	PhaseSynced      Phase = "synced"
	PhaseDeleting    Phase = "deleting"
	PhaseDeleted     Phase = "deleted"
	PhaseFailed      Phase = "failed" // last attempt failed; Err says why; will be retried
	PhaseErased      Phase = "erased" // the server deleted it (erasure, retention); never uploaded again
)

// Progress of one recording.
type Progress struct {
	ID            string
	Phase         Phase
	SegmentsDone  int
	SegmentsTotal int
	BytesDone     int64
	BytesTotal    int64
	Err           string
}

// Client syncs one device's library with assentd.
type Client struct {
	cfg   Config
	tus   *tusClient
	log   *slog.Logger
	sent  atomic.Int64
	kick  chan struct{}
	mu    gosync.Mutex
	prog  map[string]Progress
	runMu gosync.Mutex
}

// New checks cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.Server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("sync: server URL %q is not an http(s) URL; set it to the address of your organisation's assentd", cfg.Server)
	}
	if cfg.Token == "" {
		return nil, errors.New("sync: no device token; enrol this device first (Settings → Sync in the app, or assent sync --enrol URL --code CODE)")
	}
	if cfg.Library == nil || cfg.OutboxDir == "" {
		return nil, errors.New("sync: Library and OutboxDir are required")
	}
	if err := os.MkdirAll(cfg.OutboxDir, 0o700); err != nil {
		return nil, fmt.Errorf("sync: create outbox: %w", err)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Minute}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 10 * time.Second
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 5 * time.Minute
	}
	if cfg.RotateEvery == 0 {
		cfg.RotateEvery = 30 * 24 * time.Hour
	}
	c := &Client{cfg: cfg, log: cfg.Logger, kick: make(chan struct{}, 1), prog: map[string]Progress{}}
	c.tus = &tusClient{base: strings.TrimRight(cfg.Server, "/"), token: cfg.Token, hc: cfg.HTTPClient, limit: newLimiter(cfg.BandwidthLimit), sent: &c.sent}
	return c, nil
}

// BytesSent is the number of segment bytes this client put on the wire.
func (c *Client) BytesSent() int64 { return c.sent.Load() }

// Kick wakes Run for a pass now (e.g. a segment was sealed).
func (c *Client) Kick() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// Snapshot returns the progress of every recording seen, sorted by id.
func (c *Client) Snapshot() []Progress {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Progress, 0, len(c.prog))
	for _, p := range c.prog {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (c *Client) progress(p Progress) {
	c.mu.Lock()
	c.prog[p.ID] = p
	c.mu.Unlock()
	if c.cfg.OnProgress != nil {
		c.cfg.OnProgress(p)
	}
}

// Run syncs until ctx ends: a pass, then a pause (PollInterval, or a Kick),
// with exponential backoff and full jitter after failed passes.
func (c *Client) Run(ctx context.Context) error {
	fails := 0
	for {
		err := c.SyncOnce(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait := c.cfg.PollInterval
		if err != nil {
			fails++
			wait = Backoff(fails, c.cfg.MinBackoff, c.cfg.MaxBackoff)
			c.log.Warn("sync pass failed; will retry", "in", wait.String(), "err", err.Error())
		} else {
			fails = 0
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-c.kick:
			t.Stop()
		case <-t.C:
		}
	}
}

// Backoff is the pause after the n-th consecutive failure (n ≥ 1):
// a random duration in [0, min(max, lo·2^(n-1))] ("full jitter"), at least lo/2.
func Backoff(n int, lo, hi time.Duration) time.Duration {
	if n < 1 {
		n = 1
	}
	d := lo
	for i := 1; i < n && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	j := time.Duration(rand.Int64N(int64(d) + 1))
	return max(j, lo/2)
}

// SyncOnce does one pass: deletions first, then every unsynced recording.
// It returns the first error (after trying everything).
func (c *Client) SyncOnce(ctx context.Context) error {
	c.runMu.Lock()
	defer c.runMu.Unlock()
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	if err := c.maybeRotateToken(ctx); err != nil {
		c.log.Warn("device token not renewed", "err", err.Error())
		keep(fmt.Errorf("sync: %w", err))
	}
	if err := c.savePolicy(ctx); err != nil {
		c.log.Warn("organisation policy not updated", "err", err.Error())
		keep(fmt.Errorf("sync: %w", err))
	}
	dels, err := c.cfg.Library.PendingDeletions()
	if err != nil {
		return fmt.Errorf("sync: list pending deletions: %w", err)
	}
	for _, id := range dels {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		keep(c.propagateDelete(ctx, id))
	}
	recs, err := c.cfg.Library.Unsynced()
	if err != nil {
		return fmt.Errorf("sync: list recordings: %w", err)
	}
	for _, r := range recs {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := c.syncRecording(ctx, r); err != nil {
			c.log.Warn("recording not synced yet", "recording", r.ID, "err", err.Error())
			keep(fmt.Errorf("sync recording %s: %w", r.ID, err))
		}
	}
	return first
}

func (c *Client) propagateDelete(ctx context.Context, id string) error {
	c.progress(Progress{ID: id, Phase: PhaseDeleting})
	_, err := c.tus.jsonCall(ctx, http.MethodDelete, "/v1/recordings/"+url.PathEscape(id), nil, nil, http.StatusNoContent)
	if err != nil {
		c.progress(Progress{ID: id, Phase: PhaseDeleting, Err: err.Error()})
		return fmt.Errorf("delete recording %s on the server: %w", id, err)
	}
	os.Remove(c.statePath(id))
	if err := c.cfg.Library.DeletionConfirmed(id); err != nil {
		return fmt.Errorf("record confirmed deletion of %s: %w", id, err)
	}
	c.progress(Progress{ID: id, Phase: PhaseDeleted})
	return nil
}

// ---- outbox -----------------------------------------------------------------------

// outboxState is the on-disk state of one recording in flight.
type outboxState struct {
	ID         string            `json:"id"`
	Registered string            `json:"registered,omitempty"` // sha256 of the record last registered
	Erased     bool              `json:"erased,omitempty"`     // the server refuses it for good (410)
	Uploads    map[int]upload    `json:"uploads,omitempty"`    // in-progress tus uploads by segment index
	Hashes     map[string]string `json:"hashes,omitempty"`     // path → sha256 cache
}

type upload struct {
	ID     string `json:"id"`
	SHA256 string `json:"sha256"`
}

func (c *Client) statePath(id string) string {
	return filepath.Join(c.cfg.OutboxDir, hex.EncodeToString([]byte(id))+".json")
}

func (c *Client) loadState(id string) outboxState {
	st := outboxState{ID: id}
	if b, err := os.ReadFile(c.statePath(id)); err == nil {
		// Only a state that names this recording is used: a damaged,
		// foreign or id-less file only costs a HEAD/re-register.
		var saved outboxState
		if json.Unmarshal(b, &saved) == nil && saved.ID == id {
			st = saved
		}
	}
	if st.Uploads == nil {
		st.Uploads = map[int]upload{}
	}
	if st.Hashes == nil {
		st.Hashes = map[string]string{}
	}
	return st
}

// saveState writes the state atomically and durably.
func (c *Client) saveState(st outboxState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	p := c.statePath(st.ID)
	f, err := os.CreateTemp(c.cfg.OutboxDir, ".state-*")
	if err != nil {
		return fmt.Errorf("write outbox: %w", err)
	}
	defer os.Remove(f.Name())
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), p)
	}
	if err != nil {
		return fmt.Errorf("write outbox: %w", err)
	}
	if d, err := os.Open(c.cfg.OutboxDir); err == nil {
		d.Sync()
		d.Close()
	}
	crashpoint.Hit(crashpoint.OutboxSave) // recovery branch: named crash point
	return nil
}

// ---- one recording -------------------------------------------------------------------

const erasedMsg = "the organisation's server deleted this recording (an erasure request or retention); it will not be uploaded again — delete the local copy"

type segInfo = api.SegmentInfo

type recStatus = api.RecordingStatus

func fileSHA(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil)), n, err
}

// noticeTexts are the notice texts sent with the record: one per sha256 the
// record cites, in its order. The server takes them only complete, so if a
// cited text is not stored (a recording made before texts were stored) none
// is sent.
func noticeTexts(r Recording) []api.NoticeText {
	if len(r.Notices) == 0 {
		return nil
	}
	rec, err := consent.Parse(r.Record)
	if err != nil {
		return nil
	}
	var out []api.NoticeText
	for _, t := range rec.Notice.Texts {
		b, ok := r.Notices[t.SHA256]
		if !ok {
			return nil
		}
		out = append(out, api.NoticeText{SHA256: t.SHA256, Lang: t.Lang, Text: string(b)})
	}
	return out
}

func (c *Client) syncRecording(ctx context.Context, r Recording) (err error) {
	p := Progress{ID: r.ID, Phase: PhaseRegistering, SegmentsTotal: len(r.Segments)}
	for _, s := range r.Segments {
		p.BytesTotal += s.Size
	}
	defer func() {
		if err != nil {
			p.Phase, p.Err = PhaseFailed, err.Error()
			c.progress(p)
		}
	}()
	c.progress(p)
	st := c.loadState(r.ID)
	if st.Erased {
		p.Phase, p.Err = PhaseErased, erasedMsg
		c.progress(p)
		return nil
	}
	recSum := sha256.Sum256(r.Record)
	recHash := hex.EncodeToString(recSum[:])

	var status recStatus
	if st.Registered != recHash {
		req := api.RegisterRequest{ID: r.ID, Record: json.RawMessage(r.Record), Notices: noticeTexts(r)}
		if _, err := c.tus.jsonCall(ctx, http.MethodPost, "/v1/recordings", req, &status, http.StatusCreated, http.StatusOK); err != nil {
			var pe *ProblemError
			if errors.As(err, &pe) && pe.Status == http.StatusGone {
				st.Erased = true
				if err := c.saveState(st); err != nil {
					return err
				}
				p.Phase, p.Err = PhaseErased, erasedMsg
				c.progress(p)
				return nil
			}
			return fmt.Errorf("register: %w", err)
		}
		st.Registered = recHash
		if err := c.saveState(st); err != nil {
			return err
		}
	} else if _, err := c.tus.jsonCall(ctx, http.MethodGet, "/v1/recordings/"+url.PathEscape(r.ID), nil, &status, http.StatusOK); err != nil {
		var pe *ProblemError
		if errors.As(err, &pe) && pe.Status == http.StatusNotFound {
			st.Registered = "" // the server lost or erased it: register again next pass
			c.saveState(st)
		}
		return fmt.Errorf("status: %w", err)
	}
	if status.Finalised {
		return c.synced(r, st, &p)
	}
	have := map[int]string{}
	for _, s := range status.Segments {
		have[s.Index] = s.SHA256
	}
	p.Phase = PhaseUploading
	var final []segInfo
	for _, seg := range r.Segments {
		sum := seg.SHA256
		if sum == "" {
			sum = st.Hashes[seg.Path]
		}
		size := seg.Size
		if sum == "" || size == 0 {
			s, n, err := fileSHA(seg.Path)
			if err != nil {
				return fmt.Errorf("read sealed segment %d: %w", seg.Index, err)
			}
			sum, size = s, n
			st.Hashes[seg.Path] = s
		}
		final = append(final, segInfo{Index: seg.Index, Size: size, SHA256: sum})
		if have[seg.Index] == sum {
			p.SegmentsDone++
			p.BytesDone += size
			continue
		}
		if h, ok := have[seg.Index]; ok {
			return fmt.Errorf("segment %d on the server has sha256 %s but the local file has %s; the local segment changed after it was sealed", seg.Index, h, sum)
		}
		c.progress(p)
		if err := c.uploadSegment(ctx, r.ID, seg.Index, seg.Path, size, sum, &st); err != nil {
			return fmt.Errorf("upload segment %d: %w", seg.Index, err)
		}
		p.SegmentsDone++
		p.BytesDone += size
		c.progress(p)
	}
	if !r.Stopped {
		p.Phase = PhaseWaiting
		c.progress(p)
		return nil
	}
	p.Phase = PhaseFinalising
	c.progress(p)
	if _, err := c.tus.jsonCall(ctx, http.MethodPut, "/v1/recordings/"+url.PathEscape(r.ID)+"/final",
		map[string]any{"record": json.RawMessage(r.Record), "segments": final}, &status, http.StatusOK); err != nil {
		return fmt.Errorf("finalise: %w", err)
	}
	return c.synced(r, st, &p)
}

func (c *Client) synced(r Recording, st outboxState, p *Progress) error {
	if err := c.cfg.Library.MarkSynced(r.ID); err != nil {
		return fmt.Errorf("mark synced: %w", err)
	}
	os.Remove(c.statePath(st.ID))
	p.Phase, p.Err = PhaseSynced, ""
	p.SegmentsDone, p.BytesDone = p.SegmentsTotal, p.BytesTotal
	c.progress(*p)
	return nil
}

// uploadSegment resumes or starts the tus upload of one sealed segment.
func (c *Client) uploadSegment(ctx context.Context, rec string, idx int, path string, size int64, sum string, st *outboxState) error {
	up, ok := st.Uploads[idx]
	offset := int64(0)
	if ok && up.SHA256 == sum {
		off, length, err := c.tus.head(ctx, up.ID)
		var pe *ProblemError
		switch {
		case err == nil && length == size:
			offset = off
		case err == nil || (errors.As(err, &pe) && (pe.Status == http.StatusNotFound || pe.Status == http.StatusGone || pe.Status == http.StatusForbidden)):
			// Unknown upload: it may have been committed just as we lost the answer.
			var status recStatus
			if _, err := c.tus.jsonCall(ctx, http.MethodGet, "/v1/recordings/"+url.PathEscape(rec), nil, &status, http.StatusOK); err != nil {
				return err
			}
			for _, s := range status.Segments {
				if s.Index == idx && s.SHA256 == sum {
					return c.uploaded(idx, st)
				}
			}
			ok = false // start a new one
		default:
			return err
		}
	} else {
		ok = false
	}
	if !ok {
		id, err := c.tus.create(ctx, size, map[string]string{"recording": rec, "index": fmt.Sprint(idx), "sha256": sum})
		if err != nil {
			return err
		}
		up = upload{ID: id, SHA256: sum}
		st.Uploads[idx] = up
		if err := c.saveState(*st); err != nil {
			return err
		}
	}
	if offset == size {
		// Every byte arrived but the finish was cut off: ask the server to commit.
		_, err := c.tus.jsonCall(ctx, http.MethodPost, fmt.Sprintf("/v1/recordings/%s/segments/%d/commit", url.PathEscape(rec), idx), map[string]string{"upload": up.ID}, nil, http.StatusNoContent)
		var pe *ProblemError
		if errors.As(err, &pe) && (pe.Slug() == "checksum-mismatch" || pe.Slug() == "no-upload") {
			delete(st.Uploads, idx)
			c.saveState(*st)
		}
		if err != nil {
			return err
		}
		return c.uploaded(idx, st)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open sealed segment: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return err
	}
	_, err = c.tus.patch(ctx, up.ID, offset, io.LimitReader(f, size-offset), size-offset)
	if err != nil {
		var pe *ProblemError
		if errors.As(err, &pe) && (pe.Slug() == "checksum-mismatch" || pe.Status == http.StatusNotFound) {
			delete(st.Uploads, idx)
			c.saveState(*st)
		}
		return err
	}
	return c.uploaded(idx, st)
}

// uploaded forgets the finished upload. The state is not rewritten now (it
// costs an fsync per segment): a stale entry only costs one HEAD and one
// status request after a restart, and the next create or pass rewrites it.
func (c *Client) uploaded(idx int, st *outboxState) error {
	delete(st.Uploads, idx)
	return nil
}

// ---- enrolment ----------------------------------------------------------------------

// Enrolment is the server's answer to a successful enrolment.
type Enrolment = api.EnrolResponse

// Enrol registers this device with assentd using a one-time code from the
// admin, its Ed25519 signing public key and its age recipient. Keep the
// returned token secret (the OS keyring); the server stores only its hash.
func Enrol(ctx context.Context, hc *http.Client, server, code, name string, signing ed25519.PublicKey, ageRecipient string) (Enrolment, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	t := &tusClient{base: strings.TrimRight(server, "/"), hc: hc}
	var e Enrolment
	_, err := t.jsonCall(ctx, http.MethodPost, "/v1/enrol", map[string]string{
		"code": code, "name": name, "signing_key": base64.StdEncoding.EncodeToString(signing), "age_recipient": ageRecipient,
	}, &e, http.StatusCreated)
	if err != nil {
		return e, fmt.Errorf("enrol at %s: %w", server, err)
	}
	return e, nil
}
