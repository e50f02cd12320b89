package vault

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestNothingLostOnCrash_VaultRenamesThroughPlatform: every rename in the
// vault's code goes through rename (platform.Rename), so on Windows it is a
// MoveFileEx with MOVEFILE_WRITE_THROUGH, the equivalent of Unix's rename +
// fsync of the directory. A plain os.Rename there would be durable on Linux
// and silently not on Windows; this catches one added later.
func TestNothingLostOnCrash_VaultRenamesThroughPlatform(t *testing.T) {
	forbidInVaultSources(t, `\bos\.Rename\(`, "uses os.Rename; use rename (platform.Rename) so the rename is durable on Windows too")
}

// forbidInVaultSources fails the test for each line of the vault's non-test
// sources that matches pattern, saying why.
func forbidInVaultSources(t *testing.T, pattern, why string) {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	plain := regexp.MustCompile(pattern)
	checked := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for i, line := range strings.Split(string(b), "\n") {
			if plain.MatchString(line) {
				t.Errorf("%s:%d %s", f, i+1, why)
			}
		}
	}
	if checked < 5 {
		t.Fatalf("checked only %d source files; run the test from the vault directory", checked)
	}
}
