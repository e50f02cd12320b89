package cli

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"

	"github.com/assent-app/assent/consent"
)

func init() {
	commands["signing-key"] = command{"print the public key that verifies this device's consent records",
		"assent signing-key", cmdSigningKey}
}

// cmdSigningKey prints the device's Ed25519 public key in the encodings
// docs/consent-record.md names: the record's deviceKeyId, hex and base64.
func cmdSigningKey(e *env, args []string) int {
	if len(args) > 0 {
		return fail(e, ExitUsage, "usage: %s", commands["signing-key"].usage)
	}
	ws, code := open(e)
	if code >= 0 {
		return code
	}
	pub := ws.vault.SigningPublicKey()
	fmt.Fprintf(e.stdout, "keyId %s\nhex %s\nbase64 %s\n", consent.KeyID(pub), hex.EncodeToString(pub), base64.StdEncoding.EncodeToString(pub))
	return ExitOK
}
