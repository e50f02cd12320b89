package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/assent-app/assent/sync/api"
	"github.com/assent-app/assent/sync/server/bucket"
)

// ---- failed-attempt limits ---------------------------------------------------------
//
// Failed admin authentications and failed enrolment codes are audited and
// rate-limited per client address: each address may fail FailBurst times,
// then once per FailEvery; beyond that it gets 429 without its token or
// code being looked at (and without an audit entry, so a flood cannot
// flood the audit log either).
//
// On an SQL store the buckets are rows of the database (package bucket), so
// the limit holds across every replica and across restarts: N replicas do
// not give a guesser N times the tries. Only when the database does not
// answer (or the store is not SQL) does this process count on its own.

type failLimits struct {
	every  time.Duration
	burst  int
	shared *bucket.SQL // nil: this process only
	local  bucket.Memory
	log    func(msg string, err error)
}

func (f *failLimits) rate() bucket.Rate {
	return bucket.Rate{Burst: f.burst, PerMinute: float64(time.Minute) / float64(f.every)}
}

// key is the bucket of ip: a hash, so the table holds no addresses.
func failKey(ip string) string {
	h := sha256.Sum256([]byte("assentd-failed-auth\x00" + ip))
	return hex.EncodeToString(h[:])
}

// attempt takes one try of ip before its token or code is looked at, so
// no more than the burst of guesses is ever checked, however many arrive at
// once on however many replicas. With none left it returns false and how
// long until the next. Otherwise give hands the try back: call it when the
// token or code was right (only failures count).
func (f *failLimits) attempt(ctx context.Context, ip string, now time.Time) (ok bool, wait time.Duration, give func()) {
	key, r := failKey(ip), f.rate()
	if f.shared != nil {
		ok, wait, err := f.shared.Take(ctx, key, r, now)
		if err == nil {
			return ok, wait, func() {
				if err := f.shared.Give(context.WithoutCancel(ctx), key, r); err != nil {
					f.log("handing back a failed-attempt try", err)
				}
			}
		}
		f.log("shared failed-attempt limit unavailable; counting on this replica", err)
	}
	ok, wait = f.local.Take(key, r, now)
	return ok, wait, func() { f.local.Give(key, r) }
}

// ClientIP is the client address of r as the server counts it for rate
// limits (see clientIP); the consent pages use it too (cmd/assentd).
func (s *Server) ClientIP(r *http.Request) string { return s.clientIP(r) }

// clientIP is the address failed attempts are counted for. Behind the
// proxy that -forwarded-headers trusts, every request comes from the proxy,
// so the address it saw (the last X-Forwarded-For entry, the one it added)
// is used; otherwise one client's failures would lock out everyone.
func (s *Server) clientIP(r *http.Request) string {
	if s.cfg.ForwardedHeaders {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			parts := strings.Split(xff[len(xff)-1], ",")
			if ip := strings.TrimSpace(parts[len(parts)-1]); net.ParseIP(ip) != nil {
				return ip
			}
		}
	}
	return remoteIP(r)
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// failAttempt takes one failed-attempt try of the request's client before
// its admin token or enrolment code is checked; when none is left it answers
// 429 with Retry-After and returns false. Call give when the check passed.
func (s *Server) failAttempt(w http.ResponseWriter, r *http.Request) (give func(), ok bool) {
	ok, wait, give := s.fails.attempt(r.Context(), s.clientIP(r), s.now())
	if ok {
		return give, true
	}
	w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
	problem(w, http.StatusTooManyRequests, "too-many-failures", "Too many failed attempts",
		"This address sent too many wrong admin tokens or enrolment codes. Wait a minute, then check the token or ask for a new code.")
	return nil, false
}

// strongAdminToken: at least 20 characters with at least 8 different ones.
func strongAdminToken(t string) bool {
	seen := map[rune]bool{}
	for _, c := range t {
		seen[c] = true
	}
	return len(t) >= 20 && len(seen) >= 8
}

// ---- revocation --------------------------------------------------------------------------

type AdminDevice = api.AdminDevice

func (s *Server) adminDevices(w http.ResponseWriter, r *http.Request) {
	ds, err := s.cfg.Store.Devices(r.Context())
	if err != nil {
		s.internal(w, "listing devices", err)
		return
	}
	out := []AdminDevice{}
	for _, d := range ds {
		a := AdminDevice{ID: d.ID, Name: d.Name, Enrolled: d.EnrolledAt}
		if !d.Revoked.IsZero() {
			rv := d.Revoked
			a.Revoked = &rv
		}
		out = append(out, a)
	}
	writeJSON(w, http.StatusOK, map[string]any{"devices": out})
}

func (s *Server) adminRevoke(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := s.RevokeDevice(r.Context(), id, "admin API"); errors.Is(err, ErrNotFound) {
		problem(w, http.StatusNotFound, "no-device", "No such device", "No device has id "+strconv.Quote(id)+"; list them with GET /v1/admin/devices.")
		return
	} else if err != nil {
		s.internal(w, "revoking the device", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"device_id": id, "revoked": true})
}

// RevokeDevice makes a device's token invalid for good, ends its uploads in
// progress and audits it. Its recordings stay (they are the organisation's).
func (s *Server) RevokeDevice(ctx context.Context, id, how string) error {
	return RevokeDevice(ctx, s.cfg.Store, id, how, s.now())
}

// RevokeDevice revokes on the database directly (`assentd device revoke`).
func RevokeDevice(ctx context.Context, st Store, id, how string, now time.Time) error {
	if err := st.RevokeDevice(ctx, id, how, now.UTC()); err != nil {
		return err
	}
	return st.AddAudit(ctx, AuditEntry{Time: now.UTC(), Actor: "admin", Action: "device.revoke", Detail: id + " (" + how + ")"})
}

// ---- token lifetime and rotation ------------------------------------------------------------

type TokenResponse = api.TokenResponse

// tokenExpired reports whether the device's token is older than TokenTTL.
func (s *Server) tokenExpired(ctx context.Context, d Device) (bool, time.Time, error) {
	issued, err := s.cfg.Store.TokenIssued(ctx, d.ID)
	if err != nil {
		return false, time.Time{}, err
	}
	exp := issued.Add(s.cfg.TokenTTL)
	return !s.now().Before(exp), exp, nil
}

// rotateToken issues a new token for the calling device. The old one keeps
// working until the new one is first used, so a device whose answer was
// lost (a dropped connection, a crash before the keyring kept it) is not
// locked out: it asks again with the old token, which replaces the unused
// new one.
func (s *Server) rotateToken(w http.ResponseWriter, r *http.Request, d Device) {
	token := randomToken(32)
	now := s.now().UTC()
	if err := s.cfg.Store.StageToken(r.Context(), d.ID, d.TokenHash, hashToken(token), now); errors.Is(err, ErrNotFound) {
		problem(w, http.StatusConflict, "token-rotated", "Token already replaced", "This token was replaced by a rotation at the same moment; use the newest token.")
		return
	} else if err != nil {
		s.internal(w, "rotating the token", err)
		return
	}
	s.audit(r.Context(), d.ID, "device.token-rotate", "", "")
	writeJSON(w, http.StatusOK, TokenResponse{Token: token, Expires: now.Add(s.cfg.TokenTTL)})
}
