package workspace

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/zalando/go-keyring"

	"github.com/assent-app/assent/internal/config"
	assentsync "github.com/assent-app/assent/sync"
	"github.com/assent-app/assent/vault"
)

// tokenUser names the keyring entry that holds the device token for a server.
func tokenUser(server string) string { return "sync-token " + strings.TrimRight(server, "/") }

// policyKeyUser names the keyring entry that holds the server's policy
// public key (not a secret; kept beside the token it came with).
func policyKeyUser(server string) string { return "policy-key " + strings.TrimRight(server, "/") }

// ErrNotEnrolled means there is no server or no device token.
var ErrNotEnrolled = errors.New("this device is not enrolled with a server; ask your admin for an enrolment code and enrol in Settings (or 'assent sync --enrol URL CODE')")

// Enrol exchanges a one-time code for a device token, which is kept only in
// the OS keyring, and configures the organisation's escrow recipient.
func Enrol(ctx context.Context, hc *http.Client, v *vault.Vault, server, code, name string) error {
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%q is not a server address; it looks like https://recordings.example.com", server)
	}
	if strings.TrimSpace(code) == "" {
		return errors.New("type the enrolment code your admin gave you")
	}
	e, err := assentsync.Enrol(ctx, hc, server, strings.TrimSpace(code), name, v.SigningPublicKey(), v.Recipient())
	if err != nil {
		return err
	}
	if err := keyring.Set(vault.KeyringService, tokenUser(server), e.Token); err != nil {
		return fmt.Errorf("the device token could not be stored in the keyring (%v); unlock the keyring and enrol again with a new code", err)
	}
	if e.EscrowRecipient != "" {
		if err := v.SetEscrow(e.EscrowRecipient); err != nil {
			return err
		}
	}
	if e.PolicyKey != "" {
		pub, err := base64.StdEncoding.DecodeString(e.PolicyKey)
		if err != nil || len(pub) != ed25519.PublicKeySize {
			return fmt.Errorf("the server sent a policy key that is not an Ed25519 key; ask your administrator")
		}
		if err := keyring.Set(vault.KeyringService, policyKeyUser(server), e.PolicyKey); err != nil {
			return fmt.Errorf("the server's policy key could not be stored in the keyring (%v); unlock the keyring and enrol again with a new code", err)
		}
		if e.Policy != nil {
			if _, err := e.Policy.Policy.Open(pub); err != nil {
				return fmt.Errorf("the organisation's policy from the server does not verify (%v); ask your administrator", err)
			}
			if err := assentsync.SavePolicy(config.PolicyPath(config.Path()), &e.Policy.Policy); err != nil {
				return err
			}
		}
	}
	return nil
}

// policyKey reads the server's policy public key kept at enrolment (nil if none).
func policyKey(server string) ed25519.PublicKey {
	s, err := keyring.Get(vault.KeyringService, policyKeyUser(server))
	if err != nil {
		return nil
	}
	pub, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return nil
	}
	return pub
}

// DeviceToken reads the device token for server from the OS keyring; it
// wraps ErrNotEnrolled when there is none.
func DeviceToken(server string) (string, error) {
	tok, err := keyring.Get(vault.KeyringService, tokenUser(server))
	if errors.Is(err, keyring.ErrNotFound) {
		return "", ErrNotEnrolled
	}
	if err != nil {
		return "", fmt.Errorf("the device token could not be read from the keyring: %v", err)
	}
	return tok, nil
}

// SyncClient returns a sync client for the configured server with the
// device token from the keyring.
func SyncClient(cfg config.Config, v *vault.Vault, outbox string) (*assentsync.Client, error) {
	if cfg.ServerURL == "" {
		return nil, ErrNotEnrolled
	}
	tok, err := DeviceToken(cfg.ServerURL)
	if err != nil {
		return nil, err
	}
	// Every pass saves the organisation's signed policy where the call setup reads it.
	return assentsync.New(assentsync.Config{Server: cfg.ServerURL, Token: tok, Library: Library{v}, OutboxDir: outbox,
		PolicyPath: config.PolicyPath(config.Path()), PolicyKey: policyKey(cfg.ServerURL),
		// The server ends tokens after their lifetime: renew it and keep the new one in the keyring.
		OnTokenRotated: func(t string) error { return keyring.Set(vault.KeyringService, tokenUser(cfg.ServerURL), t) }})
}

// Library adapts the vault to the sync client.
type Library struct{ V *vault.Vault }

// Unsynced implements sync.Library.
func (l Library) Unsynced() ([]assentsync.Recording, error) {
	ups, err := l.V.Unsynced()
	if err != nil {
		return nil, err
	}
	out := make([]assentsync.Recording, 0, len(ups))
	for _, u := range ups {
		r := assentsync.Recording{ID: u.ID, Record: u.Record, Stopped: u.Stopped}
		// A text that fails its check is not sent (the record is; the
		// device's export says what is wrong with the text).
		r.Notices, _ = l.V.Notices(u.ID)
		for _, s := range u.Segments {
			r.Segments = append(r.Segments, assentsync.Segment{Index: s.Index, Path: s.Path, Size: s.Size, SHA256: s.SHA256})
		}
		out = append(out, r)
	}
	return out, nil
}

// MarkSynced implements sync.Library.
func (l Library) MarkSynced(id string) error { return l.V.MarkSynced(id) }

// PendingDeletions implements sync.Library.
func (l Library) PendingDeletions() ([]string, error) {
	ts, err := l.V.PendingDeletions()
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(ts))
	for _, t := range ts {
		out = append(out, t.ID)
	}
	return out, nil
}

// DeletionConfirmed implements sync.Library.
func (l Library) DeletionConfirmed(id string) error { return l.V.DeletionConfirmed(id) }
