package desktop

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/zalando/go-keyring"

	"github.com/assent-app/assent/app"
	"github.com/assent-app/assent/internal/testenv"
	"github.com/assent-app/assent/vault"
)

// stuckKeyring counts calls and answers only when released: a Secret
// Service showing an unlock prompt, or waiting out a D-Bus activation.
type stuckKeyring struct {
	mu      gosync.Mutex
	calls   int
	release chan struct{}
	inner   vault.SecretStore
}

func (s *stuckKeyring) wait() {
	s.mu.Lock()
	s.calls++
	s.mu.Unlock()
	<-s.release
}
func (s *stuckKeyring) Get(a, b string) (string, error) { s.wait(); return s.inner.Get(a, b) }
func (s *stuckKeyring) Set(a, b, c string) error        { s.wait(); return s.inner.Set(a, b, c) }
func (s *stuckKeyring) Delete(a, b string) error        { s.wait(); return s.inner.Delete(a, b) }

// mockKeyring is go-keyring after keyring.MockInit (in memory).
type mockKeyring struct{}

func (mockKeyring) Get(a, b string) (string, error) { return keyring.Get(a, b) }
func (mockKeyring) Set(a, b, c string) error        { return keyring.Set(a, b, c) }
func (mockKeyring) Delete(a, b string) error        { return keyring.Delete(a, b) }

func (s *stuckKeyring) n() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// Window first: New reads the settings and nothing else; the calls the
// first screen makes (Languages, Notice, Devices, Recordings, Sync) answer
// at once while the keyring hangs; Checks reports the hang in plain words
// within its bound; once the keyring answers, Check again finds the vault.
func TestWindowFirst_NothingWaitsForTheKeyring(t *testing.T) {
	keyring.MockInit()
	dir := t.TempDir()
	ks := &stuckKeyring{release: make(chan struct{}), inner: mockKeyring{}}
	// A device records only once its organisation is set (ErrOrgNotSet).
	cfg := filepath.Join(dir, "c.json")
	if err := os.WriteFile(cfg, []byte(`{"org":{"controller":"Acme BV","contact":"privacy@acme.example"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := New(cfg, filepath.Join(dir, "v"), ks)
	if err != nil {
		t.Fatal(err)
	}
	if ks.n() != 0 {
		t.Fatalf("New asked the keyring %d times", ks.n())
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.Languages()
		if _, err := b.Notice("en"); err != nil {
			t.Errorf("notice: %v", err)
		}
		if _, err := b.Devices(); !errors.Is(err, ErrStillLooking) && err != nil {
			t.Errorf("devices before the scan: %v", err)
		}
		if _, err := b.Recordings(); !errors.Is(err, ErrStillOpening) {
			t.Errorf("recordings while the keyring hangs: %v, want ErrStillOpening", err)
		}
		b.Sync()
		if _, err := b.NewCall(app.CallSetup{Participants: []app.ParticipantInfo{{Name: "Ana", Lang: "en"}}}); err == nil {
			t.Error("a call started while the keyring hangs")
		}
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("a first-screen call waited for the hanging keyring")
	}
	old := CheckTimeout
	CheckTimeout = 300 * time.Millisecond
	defer func() { CheckTimeout = old }()
	checks := b.Checks()
	if checks[0].Name != "Keyring" || checks[0].OK || !strings.Contains(checks[0].Problem, "did not answer") || !strings.Contains(checks[0].Fix, "Check again") {
		t.Fatalf("keyring check while it hangs: %+v", checks[0])
	}
	close(ks.release)
	CheckTimeout = 20 * time.Second
	checks = b.Checks()
	if !checks[0].OK || !checks[1].OK {
		t.Fatalf("after the keyring answered: %+v", checks)
	}
	if _, err := b.Recordings(); err != nil {
		t.Fatalf("recordings once open: %v", err)
	}
}

// "Sound server: ready" only when one answers.
func TestBadInputGetsClearError_NoSoundServer(t *testing.T) {
	t.Setenv("PULSE_SERVER", "unix:"+filepath.Join(t.TempDir(), "no-such-socket"))
	keyring.MockInit()
	dir := t.TempDir()
	b, err := New(filepath.Join(dir, "c.json"), filepath.Join(dir, "v"), mockKeyring{})
	if err != nil {
		t.Fatal(err)
	}
	var sound app.Check
	for _, c := range b.Checks() {
		if c.Name == "Sound server" {
			sound = c
		}
	}
	if sound.OK || !strings.Contains(sound.Problem, "No sound server") || !strings.Contains(sound.Fix, "PulseAudio") {
		t.Fatalf("sound server check without one: %+v", sound)
	}
	if _, err := b.Devices(); !errors.Is(err, ErrNoSoundServer) {
		t.Fatalf("devices without a sound server: %v", err)
	}
}

func TestSoundServerAnswers(t *testing.T) {
	testenv.RequirePulse(t)
	if err := SoundServer(); err != nil {
		t.Fatalf("PulseAudio runs (ASSENT_TEST_PULSE=1) but SoundServer says %v (PULSE_SERVER=%q)", err, os.Getenv("PULSE_SERVER"))
	}
}
