package vault

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/zalando/go-keyring"
)

// Windows Credential Manager limits (wincred.h), which go-keyring enforces
// before calling CredWrite on Windows.
const (
	credMaxBlob     = 2560  // CRED_MAX_CREDENTIAL_BLOB_SIZE: bytes of secret
	credMaxUserName = 513   // CRED_MAX_USERNAME_LENGTH
	credMaxTarget   = 32767 // CRED_MAX_GENERIC_TARGET_NAME_LENGTH ("service:user")
	keyringMaxSvc   = 511   // go-keyring refuses a service name of 512 bytes or more
)

// limitStore is a SecretStore that enforces the Credential Manager limits on
// every platform, so the check also holds where the real keyring has none,
// and remembers the largest secret it was given.
type limitStore struct {
	SecretStore
	t       *testing.T
	sets    int
	largest int
}

func (s *limitStore) Set(svc, user, secret string) error {
	s.t.Helper()
	s.sets++
	s.largest = max(s.largest, len(secret))
	switch {
	case len(secret) > credMaxBlob:
		s.t.Errorf("secret %q is %d bytes; Windows Credential Manager keeps at most %d", user, len(secret), credMaxBlob)
		return keyring.ErrSetDataTooBig
	case len(svc) > keyringMaxSvc, len(user) > credMaxUserName, len(svc)+1+len(user) > credMaxTarget:
		s.t.Errorf("keyring names %q / %q are too long for Windows Credential Manager", svc, user)
		return keyring.ErrSetDataTooBig
	}
	return s.SecretStore.Set(svc, user, secret)
}

// TestNeverPlaintextAtRest_KeysFitCredentialManager: the vault's secrets
// (the age identity and the Ed25519 signing key) fit in one Windows
// Credential Manager entry each, through every path that stores them
// (create, restore from `assent key export`), so on Windows they live in the
// keyring like everywhere else and are never pushed to a file. With
// ASSENT_TEST_KEYRING=1 it runs against the real OS keyring: gnome-keyring
// on Linux, Credential Manager under Wine (make windows-smoke), where it
// also shows the limit is real: 2560 bytes round-trip, 2561 are refused.
func TestNeverPlaintextAtRest_KeysFitCredentialManager(t *testing.T) {
	var inner SecretStore = newMemStore()
	real := os.Getenv("ASSENT_TEST_KEYRING") == "1"
	if real {
		inner = OSKeyring()
		t.Logf("against the real OS keyring of %s", runtime.GOOS)
	}
	store := &limitStore{SecretStore: inner, t: t}
	root := wineSafeTempDir(t)
	v, rep, err := Open(root, Options{Secrets: store})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if real {
		t.Cleanup(func() {
			inner.Delete(KeyringService, keyUser(v.keys.id, "age-identity"))
			inner.Delete(KeyringService, keyUser(v.keys.id, "ed25519-signing-key"))
		})
	}
	if !rep.Created || store.sets < 2 {
		t.Fatalf("a new vault stored %d secrets (created=%v), want the identity and the signing key", store.sets, rep.Created)
	}
	var key bytes.Buffer
	if err := v.KeyExport(&key); err != nil {
		t.Fatal(err)
	}
	// Reopen: both secrets read back from the store and match vault.json.
	if _, _, err := Open(root, Options{Secrets: store}); err != nil {
		t.Fatalf("reopening with the keys from the keyring: %v", err)
	}
	// Restore into the keyring from the exported key file.
	inner.Delete(KeyringService, keyUser(v.keys.id, "age-identity"))
	if err := RestoreKey(root, store, &key); err != nil {
		t.Fatalf("RestoreKey: %v", err)
	}
	if _, _, err := Open(root, Options{Secrets: store}); err != nil {
		t.Fatalf("reopening after RestoreKey: %v", err)
	}
	t.Logf("largest secret stored: %d bytes of %d allowed", store.largest, credMaxBlob)
	secrets := [][]byte{[]byte("AGE-SECRET-KEY"), []byte(b64(v.keys.signer.Seed()))}
	if files := scanForPlaintext(t, "vault with keys in the keyring", secrets, root); files == 0 {
		t.Fatal("found no vault files to check")
	}

	if !(real && runtime.GOOS == "windows") {
		return
	}
	const probe = "assent-test-size-probe"
	t.Cleanup(func() { inner.Delete(KeyringService, probe) })
	full := strings.Repeat("k", credMaxBlob)
	if err := inner.Set(KeyringService, probe, full); err != nil {
		t.Fatalf("Credential Manager refused a %d-byte secret: %v", credMaxBlob, err)
	}
	if got, err := inner.Get(KeyringService, probe); err != nil || got != full {
		t.Fatalf("a %d-byte secret did not round-trip through Credential Manager (len %d, %v)", credMaxBlob, len(got), err)
	}
	if err := inner.Set(KeyringService, probe, full+"k"); !errors.Is(err, keyring.ErrSetDataTooBig) {
		t.Fatalf("a %d-byte secret: %v, want keyring.ErrSetDataTooBig", credMaxBlob+1, err)
	}
}

// wineSafeTempDir is t.TempDir, removed file by file: this test also runs
// under Wine 8, where os.RemoveAll fails ("Invalid function": Wine lacks
// FileDispositionInformationEx, which Go uses on Windows 10 and later).
func wineSafeTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "assent-vault-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		var paths []string
		filepath.WalkDir(dir, func(p string, _ fs.DirEntry, _ error) error {
			paths = append(paths, p)
			return nil
		})
		for i := len(paths) - 1; i >= 0; i-- {
			os.Remove(paths[i])
		}
	})
	return dir
}
