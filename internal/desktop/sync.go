package desktop

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	gosync "sync"
	"time"

	"github.com/assent-app/assent/app"
	"github.com/assent-app/assent/internal/config"
	"github.com/assent-app/assent/internal/workspace"
	assentsync "github.com/assent-app/assent/sync"
)

// syncer runs the sync client in the background while the app is open.
type syncer struct {
	b      *Backend
	mu     gosync.Mutex
	client *assentsync.Client
	cancel context.CancelFunc
	err    string
}

func newSyncer(b *Backend) *syncer {
	s := &syncer{b: b}
	s.restart()
	return s
}

// restart (re)starts the client for the configured server, if enrolled.
func (s *syncer) restart() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil {
		s.cancel()
		s.cancel, s.client = nil, nil
	}
	cfg := s.b.config()
	if cfg.ServerURL == "" || s.b.v == nil {
		return
	}
	c, err := workspace.SyncClient(cfg, s.b.v, filepath.Join(s.b.vaultDir, "outbox"))
	if err != nil {
		s.err = err.Error()
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.client, s.cancel = c, cancel
	go func() {
		if err := c.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			s.mu.Lock()
			s.err = err.Error()
			s.mu.Unlock()
		}
	}()
}

func (s *syncer) snapshot() []assentsync.Progress {
	s.mu.Lock()
	c := s.client
	s.mu.Unlock()
	if c == nil {
		return nil
	}
	return c.Snapshot()
}

func (s *syncer) kick() {
	s.mu.Lock()
	c := s.client
	s.mu.Unlock()
	if c != nil {
		c.Kick()
	}
}

// Sync implements app.Backend.
func (b *Backend) Sync() app.SyncStatus {
	cfg := b.config()
	st := app.SyncStatus{ServerURL: cfg.ServerURL, Enrolled: cfg.ServerURL != ""}
	sy := b.syncer()
	if sy == nil || !st.Enrolled {
		return st
	}
	sy.mu.Lock()
	st.LastError = sy.err
	sy.mu.Unlock()
	st.Connected = st.LastError == ""
	for _, p := range sy.snapshot() {
		if p.Phase != assentsync.PhaseSynced && p.Phase != assentsync.PhaseDeleted {
			st.Pending++
		}
		if p.Err != "" {
			st.LastError, st.Connected = p.Err, false
		}
	}
	return st
}

// Enrol implements app.Backend: the one-time code is exchanged for a device
// token, which goes to the OS keyring only.
func (b *Backend) Enrol(serverURL, code string) error {
	v, err := b.vault()
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := workspace.Enrol(ctx, &http.Client{Timeout: 30 * time.Second}, v, serverURL, code, host); err != nil {
		return err
	}
	b.mu.Lock()
	b.cfg.ServerURL = serverURL
	c := b.cfg
	b.mu.Unlock()
	if err := saveConfig(b, c); err != nil {
		return err
	}
	if sy := b.syncer(); sy != nil {
		sy.restart()
	}
	return nil
}

func saveConfig(b *Backend, c config.Config) error { return config.Save(b.cfgPath, c) }
