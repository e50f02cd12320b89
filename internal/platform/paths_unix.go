//go:build !windows && !darwin

package platform

import (
	"os"
	"path/filepath"
)

// ConfigDir is where the settings live: $XDG_CONFIG_HOME/assent, by default
// ~/.config/assent.
func ConfigDir() string {
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		if d, err := os.UserConfigDir(); err == nil {
			dir = d
		}
	}
	return filepath.Join(dir, "assent")
}

// DataDir is where the vault lives: $XDG_DATA_HOME/assent, by default
// ~/.local/share/assent.
func DataDir() string {
	dir := os.Getenv("XDG_DATA_HOME")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(dir, "assent")
}
