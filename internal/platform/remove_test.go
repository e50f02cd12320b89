package platform_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/assent-app/assent/internal/platform"
)

// TestDeleteMeansDelete_RemoveAllRemovesTree: a recording's directory —
// files, a read-only file, a subdirectory — is gone after RemoveAll, and
// removing what is already gone is no error. Run on Linux and, by make
// windows-smoke, as a Windows program under Wine, where os.RemoveAll alone
// fails ("Invalid function") and the file-by-file fallback does the work.
func TestDeleteMeansDelete_RemoveAllRemovesTree(t *testing.T) {
	// Not t.TempDir: its cleanup is os.RemoveAll, which fails under Wine.
	tmp, err := os.MkdirTemp("", "assent-remove-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = platform.RemoveAll(tmp) })
	dir := filepath.Join(tmp, "01m8tm7e2wxb43y5qpbsf5bs7e.deleting")
	for _, p := range []string{"seg-000001.age", "meta.json.age", "writer.lock", "sub/seg-000002.age"} {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte("age-encryption.org/v1\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(dir, "meta.json.age"), 0o400); err != nil { // read-only on Windows
		t.Fatal(err)
	}
	if err := platform.RemoveAll(dir); err != nil {
		t.Fatalf("RemoveAll: %v", err)
	}
	if _, err := os.Lstat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("%s still exists after RemoveAll (%v)", dir, err)
	}
	if err := platform.RemoveAll(dir); err != nil {
		t.Fatalf("RemoveAll of what is gone: %v", err)
	}
}
