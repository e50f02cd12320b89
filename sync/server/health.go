package server

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// Health for a load balancer:
//   - GET /healthz: the process is alive and serving HTTP (liveness); it
//     checks nothing else, so a database outage does not get every replica
//     restarted at once;
//   - GET /readyz: this replica should get traffic (readiness): it is not
//     draining, the database answers and has run this build's migrations,
//     and the object store answers.

// pinger is an object store that can check it is reachable (S3Objects).
type pinger interface {
	Ping(ctx context.Context) error
}

// Drain marks this replica as going away: /readyz answers 503 from now on,
// so the load balancer stops sending new requests. assentd calls it on
// SIGTERM, waits a moment, ends the event streams and then shuts the HTTP
// server down (requests in flight finish).
func (s *Server) Drain() { s.draining.Store(true) }

// Ready reports why this replica should not get traffic, or nil.
func (s *Server) Ready(ctx context.Context) error {
	if s.draining.Load() {
		return fmt.Errorf("shutting down")
	}
	if err := s.cfg.Store.Ping(ctx); err != nil {
		return fmt.Errorf("database unreachable: %w", err)
	}
	if v, err := SchemaVersion(ctx, s.cfg.Store); err == nil && v < LatestSchema() {
		return fmt.Errorf("database schema is at version %d, this assentd needs %d: the migration has not run yet", v, LatestSchema())
	} else if err != nil && s.isSQL() {
		return fmt.Errorf("database schema version unreadable: %w", err)
	}
	if p, ok := s.cfg.Objects.(pinger); ok {
		if err := p.Ping(ctx); err != nil {
			return fmt.Errorf("object store unreachable: %w", err)
		}
	}
	return nil
}

func (s *Server) isSQL() bool { _, ok := s.cfg.Store.(*sqlStore); return ok }

func (s *Server) livez(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	if err := s.Ready(ctx); err != nil {
		s.log.Warn("not ready", "reason", err.Error())
		w.Header().Set("Retry-After", "5")
		problem(w, http.StatusServiceUnavailable, "not-ready", "Not ready", "This assentd replica should not get traffic now: "+err.Error()+". The load balancer should use another replica; if none is ready, check the database and the object store.")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
