package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/assent-app/assent/internal/workspace"
	"github.com/assent-app/assent/vault"
)

// Libraries say what happened; the command line adds what to do, naming
// its own commands.
func TestBadInputGetsClearError_KeyringHints(t *testing.T) {
	cases := []struct {
		err  error
		want []string
	}{
		{&vault.KeyringError{Problem: vault.KeyringNoBus, Err: vault.ErrNoSessionBus}, []string{"no desktop session bus is running", "dbus-run-session"}},
		{&vault.KeyringError{Problem: vault.KeyringUnavailable}, []string{"no system keyring (Secret Service) is running", "GNOME Keyring"}},
		{&vault.KeyringError{Problem: vault.KeyringLocked}, []string{"the system keyring is locked", "Unlock it"}},
		{&vault.KeyringError{Problem: vault.KeyringTimeout}, []string{"did not answer in time", "password"}},
		{&vault.KeyringError{Problem: vault.KeyMissing}, []string{"does not hold this library's key", "assent key import FILE"}},
		{fmt.Errorf("sync: %w", workspace.ErrNotEnrolled), []string{"not enrolled", "assent sync --enrol URL --code CODE"}},
	}
	for _, c := range cases {
		var out bytes.Buffer
		code := fail(&env{stderr: &out}, ExitKeyring, "%v", c.err)
		msg := out.String()
		if code != ExitKeyring || strings.Count(msg, "\n") != 1 {
			t.Errorf("%v: code %d, %q", c.err, code, msg)
		}
		for _, w := range c.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%v: message lacks %q: %q", c.err, w, msg)
			}
		}
		if strings.Contains(msg, "freedesktop") || strings.Contains(msg, "vault:") {
			t.Errorf("message shows internals: %q", msg)
		}
	}
}

// Without a session bus a command that needs the keys answers at once with
// exit code 4 and one sentence — no dbus-launch, no two-minute wait.
func TestBadInputGetsClearError_NoSessionBusCLI(t *testing.T) {
	if _, err := os.Stat(filepath.Join("/run/user", strconv.Itoa(os.Getuid()), "bus")); err == nil {
		t.Skip("this user has a systemd session bus socket; the no-bus case cannot be made here")
	}
	dir := t.TempDir()
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	t.Setenv("ASSENT_HOME", filepath.Join(dir, "vault"))
	t.Setenv("ASSENT_CONFIG", filepath.Join(dir, "config.json"))
	var stdout, stderr bytes.Buffer
	code := Main([]string{"list"}, strings.NewReader(""), &stdout, &stderr)
	msg := stderr.String()
	if code != ExitKeyring || !strings.Contains(msg, "no desktop session bus is running") || !strings.Contains(msg, "dbus-run-session") {
		t.Fatalf("exit %d, stderr %q", code, msg)
	}
}
