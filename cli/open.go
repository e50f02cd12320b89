package cli

import (
	"errors"
	"fmt"

	"github.com/assent-app/assent/internal/config"
	"github.com/assent-app/assent/internal/workspace"
	"github.com/assent-app/assent/vault"
)

// workspace is what most commands need: settings and the open vault.
type session struct {
	cfg    config.Config
	vault  *vault.Vault
	report *vault.OpenReport
}

// open loads the settings and opens the vault, recovering recordings a crash
// interrupted (their consent records are closed with a Recovered event). It
// returns an exit code ≥ 0 on failure, having printed why.
func open(e *env) (*session, int) {
	cfg, err := config.Load(config.Path())
	if err != nil {
		return nil, fail(e, ExitFailed, "%v", err)
	}
	v, rep, err := workspace.OpenVault(config.VaultDir(), nil)
	if err != nil {
		var ke *vault.KeyringError
		if errors.As(err, &ke) {
			return nil, fail(e, ExitKeyring, "%v", err)
		}
		return nil, fail(e, ExitFailed, "%v", err)
	}
	for _, r := range rep.Recovered {
		secs := float64(r.SealedSamples) / 48000
		if r.Removed { // recovery branch: a call that admitted no audio is removed, as a refusal is
			fmt.Fprintf(e.stderr, "assent: recording %s was interrupted before any audio was recorded; it was removed with everything about its participants\n", r.ID)
			continue
		}
		if r.Err != nil {
			fmt.Fprintf(e.stderr, "assent: recording %s was interrupted; %d sealed segments (%.0f s) kept, but its consent record could not be closed: %v\n", r.ID, r.Segments, secs, r.Err)
			continue
		}
		fmt.Fprintf(e.stderr, "assent: recording %s was interrupted by a crash; recovered %d sealed segments (%.0f s of audio)\n", r.ID, r.Segments, secs)
	}
	for _, d := range rep.Damaged {
		fmt.Fprintf(e.stderr, "assent: recording %s cannot be read and is not listed (%v); its files are kept untouched\n", d.ID, d.Err)
	}
	return &session{cfg: cfg, vault: v, report: rep}, -1
}
