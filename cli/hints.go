package cli

import (
	"errors"

	"github.com/assent-app/assent/internal/workspace"
	"github.com/assent-app/assent/vault"
)

// Hints at the edge: libraries return typed errors that say what happened;
// the command line says what to do next, naming its own commands. fail
// passes every error argument through explain.

// explain returns err as one plain sentence with what to do next, or err
// itself when there is nothing to add.
func explain(err error) any {
	var ke *vault.KeyringError
	switch {
	case errors.Is(err, vault.ErrNoSessionBus):
		return err.Error() + ". Run Assent inside your desktop session (or start one with `dbus-run-session -- bash` and a keyring such as `gnome-keyring-daemon --unlock` in it), then try again."
	case errors.Is(err, vault.ErrNoSecretService):
		return err.Error() + ". Install and start a keyring (GNOME Keyring, or KeePassXC with Secret Service enabled), then try again."
	case errors.Is(err, vault.ErrKeyringLocked):
		return err.Error() + ". Unlock it (log in to your desktop, or unlock it in your keyring manager), then try again."
	case errors.Is(err, vault.ErrKeyringTimeout):
		return err.Error() + ". If it is asking for your password, unlock it, then try again."
	case errors.Is(err, vault.ErrKeyMissing):
		return err.Error() + ". Restore the key from the backup you made with `assent key export` (`assent key import FILE`), or use the keyring this library was created with."
	case errors.As(err, &ke):
		return err.Error() + ". Check that your keyring works, then try again."
	case errors.Is(err, workspace.ErrNotEnrolled):
		return "this device is not enrolled with a server. Ask your admin for an enrolment code, then run: assent sync --enrol URL --code CODE"
	}
	return err
}
