//go:build windows

package platform

import (
	"os"
	"path/filepath"
)

// ConfigDir is where the settings live: %APPDATA%\Assent (the roaming
// profile, so settings follow a rep to another company laptop).
func ConfigDir() string {
	return filepath.Join(knownDir("APPDATA", "Roaming"), "Assent")
}

// DataDir is where the vault lives: %LOCALAPPDATA%\Assent. Recordings are
// large and encrypted to this device's key, so they never roam.
func DataDir() string {
	return filepath.Join(knownDir("LOCALAPPDATA", "Local"), "Assent")
}

// knownDir reads one of the profile folders from its environment variable,
// which Windows always sets for a logged-in user; without it (a stripped
// service environment) it falls back to %USERPROFILE%\AppData\<sub>.
func knownDir(env, sub string) string {
	if d := os.Getenv(env); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, "AppData", sub)
}
