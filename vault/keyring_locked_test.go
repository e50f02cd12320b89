package vault

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assent-app/assent/internal/testenv"
)

const lockedChildEnv = "ASSENT_VAULT_LOCKED_CHILD"

// TestLockedKeyringChild runs inside a private D-Bus session with its own
// gnome-keyring (see TestBadInputGetsClearError_RealKeyringLocked).
func TestLockedKeyringChild(t *testing.T) {
	root := os.Getenv(lockedChildEnv)
	if root == "" {
		return // only runs as the subprocess of TestBadInputGetsClearError_RealKeyringLocked
	}
	if _, _, err := Open(root, Options{}); err != nil {
		fmt.Println("CREATE-FAILED", err)
		return
	}
	out, err := exec.Command("gdbus", "call", "--session", "--dest", "org.freedesktop.secrets",
		"--object-path", "/org/freedesktop/secrets", "--method", "org.freedesktop.Secret.Service.Lock",
		"['/org/freedesktop/secrets/aliases/default']").CombinedOutput()
	if err != nil {
		fmt.Println("LOCK-FAILED", err, string(out))
		return
	}
	_, _, err = Open(root, Options{})
	var ke *KeyringError
	if errors.As(err, &ke) {
		fmt.Printf("PROBLEM %d\n%s\n", ke.Problem, err)
	} else {
		fmt.Printf("OTHER %v\n", err)
	}
}

// A real, locked Secret Service: the vault refuses with "unlock your keyring".
// It runs its own D-Bus session and gnome-keyring so locking cannot disturb
// other tests sharing the keyring of scripts/with-real-parts.sh.
func TestBadInputGetsClearError_RealKeyringLocked(t *testing.T) {
	testenv.RequireKeyring(t)
	for _, tool := range []string{"dbus-run-session", "gnome-keyring-daemon", "gdbus"} {
		needTool(t, tool)
	}
	home := t.TempDir()
	env := []string{}
	for _, kv := range os.Environ() {
		// No DISPLAY: with one, a locked keyring pops up a password prompter
		// (gcr-prompter) that waits forever for a person.
		if !strings.HasPrefix(kv, "DBUS_SESSION_BUS_ADDRESS=") && !strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(kv, "XDG_") && !strings.HasPrefix(kv, "DISPLAY=") {
			env = append(env, kv)
		}
	}
	dirs := map[string]string{"HOME": home, "XDG_DATA_HOME": home + "/data", "XDG_CACHE_HOME": home + "/cache",
		"XDG_CONFIG_HOME": home + "/config", "XDG_RUNTIME_DIR": home + "/run"}
	for k, d := range dirs {
		os.MkdirAll(d, 0o700)
		env = append(env, k+"="+d)
	}
	root := filepath.Join(home, "vault")
	env = append(env, lockedChildEnv+"="+root)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	script := `echo -n testpass | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1; exec "$@"`
	cmd := exec.CommandContext(ctx, "dbus-run-session", "--", "sh", "-c", script, "sh",
		os.Args[0], "-test.run=^TestLockedKeyringChild$", "-test.count=1")
	cmd.Env = env
	// The session's daemons inherit the output pipe; don't wait for them
	// beyond the context's deadline.
	cmd.WaitDelay = 5 * time.Second
	out, _ := cmd.CombinedOutput()
	s := string(out)
	if !strings.Contains(s, fmt.Sprintf("PROBLEM %d", KeyringLocked)) {
		t.Fatalf("child output:\n%s", s)
	}
	for _, want := range []string{"the system keyring is locked", "nothing was recorded or stored unencrypted"} {
		if !strings.Contains(s, want) {
			t.Errorf("message lacks %q:\n%s", want, s)
		}
	}
}
