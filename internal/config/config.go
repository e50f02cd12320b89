// Package config is the settings file shared by the desktop app and the
// command line: config.json in platform.ConfigDir (Linux:
// $XDG_CONFIG_HOME/assent, Windows: %APPDATA%\Assent) or $ASSENT_CONFIG, and
// where the vault lives: platform.DataDir (Linux: $XDG_DATA_HOME/assent,
// Windows: %LOCALAPPDATA%\Assent) or $ASSENT_HOME.
//
// It holds no secret: keys live in the OS keyring (vault), the server's
// device token too. Unknown fields are rejected so a typo is reported, not
// silently ignored.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/assent-app/assent/consent"
	"github.com/assent-app/assent/internal/platform"
)

// Config is everything the user or the organisation can set.
type Config struct {
	// Org are the organisation's facts shown in the notice.
	Org consent.OrgParams `json:"org"`
	// NoticeDir, if set, is an organisation's own notice tree
	// (<id>/<version>/<lang>.md) used instead of the shipped one.
	NoticeDir string `json:"noticeDir,omitempty"`
	// Input and CallInput select capture devices: "" = the default input
	// and what this computer plays (stereo); CallInput "none" = microphone
	// only. See devices.go and `assent devices`.
	Input     string `json:"input,omitempty"`
	CallInput string `json:"callInput,omitempty"`
	// Chime plays a sound on start/pause/stop; Beep a periodic beep.
	Chime bool `json:"chime"`
	Beep  bool `json:"beep"`
	// Language of the app and the default notice language ("" = system).
	Language string `json:"language,omitempty"`
	// ServerURL of the organisation's assentd ("" = not enrolled).
	ServerURL string `json:"serverURL,omitempty"`
	// DeleteAfterSyncDays deletes local copies this many days after the
	// server confirmed them (0 = keep). MaxLocalDays is an absolute limit
	// for synced recordings (0 = none); unsynced ones are never deleted
	// silently.
	DeleteAfterSyncDays int `json:"deleteAfterSyncDays,omitempty"`
	MaxLocalDays        int `json:"maxLocalDays,omitempty"`
}

// Default is the configuration of a fresh install.
func Default() Config {
	return Config{
		// No organisation facts: a fresh install asks for the controller
		// and contact and refuses to record until they are set (a
		// placeholder must never reach a participant).
		Chime: true,
	}
}

// Path returns the settings file path.
func Path() string {
	if p := os.Getenv("ASSENT_CONFIG"); p != "" {
		return p
	}
	return filepath.Join(platform.ConfigDir(), "config.json")
}

// VaultDir returns the vault directory.
func VaultDir() string {
	if p := os.Getenv("ASSENT_HOME"); p != "" {
		return p
	}
	return platform.DataDir()
}

// ErrBadConfig is wrapped by every error about the settings file's content.
var ErrBadConfig = errors.New("the settings file is not valid")

// Load reads the settings file; a missing file gives Default.
func Load(path string) (Config, error) {
	c := Default()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("reading settings %s: %w", path, err)
	}
	return Parse(b)
}

// Parse parses settings JSON over the defaults and validates it.
func Parse(b []byte) (Config, error) {
	c := Default()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Default(), fmt.Errorf("%w: %v — fix the file or delete it to start from the defaults", ErrBadConfig, err)
	}
	if dec.More() {
		return Default(), fmt.Errorf("%w: extra data after the settings object", ErrBadConfig)
	}
	if err := c.Org.ValidateStored(); err != nil {
		return Default(), fmt.Errorf("%w: %v", ErrBadConfig, err)
	}
	if c.DeleteAfterSyncDays < 0 || c.MaxLocalDays < 0 {
		return Default(), fmt.Errorf("%w: retention days cannot be negative", ErrBadConfig)
	}
	return c, nil
}

// Save writes the settings atomically (temp file, fsync, rename).
func Save(path string, c Config) error {
	if err := c.Org.ValidateStored(); err != nil {
		return err
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".part"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return platform.Rename(tmp, path)
}

// PolicyPath is where an enrolled device keeps the last organisation policy
// its server sent (a consent.SignedPolicy as JSON), beside the settings file.
// The sync client writes it on every sync; the call setup reads it.
func PolicyPath(settingsPath string) string {
	return filepath.Join(filepath.Dir(settingsPath), "policy.json")
}
