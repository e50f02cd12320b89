package vault

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDeleteMeansDelete_VaultRemovesThroughPlatform: every removal of a
// directory tree in the vault's code goes through removeAll
// (platform.RemoveAll). Go's os.RemoveAll fails under Wine ("Invalid
// function"), so a plain call there would leave a deleted recording's
// files on disk on such a system; this catches one added later.
func TestDeleteMeansDelete_VaultRemovesThroughPlatform(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	plain := regexp.MustCompile(`\bos\.RemoveAll\(`)
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
				t.Errorf("%s:%d uses os.RemoveAll; use removeAll (platform.RemoveAll) so deleting works on every Windows", f, i+1)
			}
		}
	}
	if checked < 5 {
		t.Fatalf("checked only %d source files; run the test from the vault directory", checked)
	}
}
