//go:build darwin

package platform

import (
	"os"
	"path/filepath"
)

// ConfigDir is where the settings live: ~/Library/Application Support/Assent.
func ConfigDir() string {
	return filepath.Join(appSupport(), "Assent")
}

// DataDir is where the vault lives:
// ~/Library/Application Support/Assent/Library (beside the settings, in its
// own folder so the vault's files and the settings never mix).
func DataDir() string {
	return filepath.Join(appSupport(), "Assent", "Library")
}

func appSupport() string {
	if d, err := os.UserConfigDir(); err == nil {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, "Library", "Application Support")
}
