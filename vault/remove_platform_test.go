package vault

import "testing"

// TestDeleteMeansDelete_VaultRemovesThroughPlatform: every removal of a
// directory tree in the vault's code goes through removeAll
// (platform.RemoveAll). Go's os.RemoveAll fails under Wine ("Invalid
// function"), so a plain call there would leave a deleted recording's
// files on disk on such a system; this catches one added later.
func TestDeleteMeansDelete_VaultRemovesThroughPlatform(t *testing.T) {
	forbidInVaultSources(t, `\bos\.RemoveAll\(`, "uses os.RemoveAll; use removeAll (platform.RemoveAll) so deleting works on every Windows")
}
