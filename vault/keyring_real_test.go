package vault

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/assent-app/assent/internal/testenv"
)

// Against the real Secret Service (gnome-keyring via scripts/with-real-parts.sh).
func TestRealKeyring_CreateRecordReopenPlay(t *testing.T) {
	testenv.RequireKeyring(t)
	root := t.TempDir()
	v, rep, err := Open(root, Options{}) // the OS keyring
	if err != nil {
		t.Fatalf("Open with the real keyring: %v", err)
	}
	t.Cleanup(func() {
		OSKeyring().Delete(KeyringService, keyUser(v.keys.id, "age-identity"))
		OSKeyring().Delete(KeyringService, keyUser(v.keys.id, "ed25519-signing-key"))
	})
	if !rep.Created {
		t.Fatal("not reported created")
	}
	got, err := OSKeyring().Get(KeyringService, keyUser(v.keys.id, "age-identity"))
	if err != nil || got != v.keys.identity.String() {
		t.Fatalf("the identity is not in the Secret Service: %v", err)
	}
	w, err := v.Create(NewRecording{Title: "real keyring"})
	if err != nil {
		t.Fatal(err)
	}
	want := writeSegments(t, w, newFakeStream(2), 2, 2, true)
	w.Close()
	scanForPlaintext(t, "real keyring vault", [][]byte{[]byte("AGE-SECRET-KEY"), []byte("OggS")}, root)

	v2, rep2, err := Open(root, Options{})
	if err != nil || rep2.Created {
		t.Fatalf("reopen with the real keyring: %v %+v", err, rep2)
	}
	if !bytes.Equal(readStream(t, v2, w.ID()), want) {
		t.Fatal("stream differs after reopening with the real keyring")
	}
	// Remove the key from the real keyring: the vault refuses, clearly.
	OSKeyring().Delete(KeyringService, keyUser(v.keys.id, "age-identity"))
	_, _, err = Open(root, Options{})
	var ke *KeyringError
	if !errors.As(err, &ke) || ke.Problem != KeyMissing {
		t.Fatalf("missing key in the real keyring: %v", err)
	}
}

const noBusChildEnv = "ASSENT_VAULT_NOBUS_CHILD"

// TestNoBusChild is the subprocess of
// TestBadInputGetsClearError_RealKeyringUnreachable.
func TestNoBusChild(t *testing.T) {
	root := os.Getenv(noBusChildEnv)
	if root == "" {
		return // only runs as the subprocess of TestBadInputGetsClearError_RealKeyringUnreachable
	}
	_, _, err := Open(root, Options{})
	var ke *KeyringError
	if errors.As(err, &ke) {
		fmt.Printf("PROBLEM %d\n%s\n", ke.Problem, err)
	} else {
		fmt.Printf("OTHER %v\n", err)
	}
}

// The real go-keyring with no reachable D-Bus: Open refuses with a
// KeyringError that says what to do, and writes no key anywhere.
func TestBadInputGetsClearError_RealKeyringUnreachable(t *testing.T) {
	root := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestNoBusChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), noBusChildEnv+"="+root,
		"DBUS_SESSION_BUS_ADDRESS=unix:path="+root+"/no-such-bus", "DISPLAY=", "PATH=/nonexistent")
	out, _ := cmd.CombinedOutput()
	s := string(out)
	if !strings.Contains(s, fmt.Sprintf("PROBLEM %d", KeyringNoBus)) {
		t.Fatalf("child output:\n%s", s)
	}
	for _, want := range []string{"no desktop session bus is running", "nothing was recorded or stored unencrypted"} {
		if !strings.Contains(s, want) {
			t.Errorf("message lacks %q:\n%s", want, s)
		}
	}
	mustNotExist(t, root+"/"+configFile)
}
