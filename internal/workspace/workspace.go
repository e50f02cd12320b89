// Package workspace opens what both front ends (the desktop app and the
// command line) work on: the settings, the encrypted vault with crash
// recovery, the notice set, and exports with human-readable receipts.
package workspace

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/assent-app/assent/consent"
	"github.com/assent-app/assent/internal/config"
	"github.com/assent-app/assent/vault"
)

// errDeferred postpones a recovery until the device key is known.
var errDeferred = errors.New("recovery deferred until the device key is loaded")

// OpenVault opens the vault at dir with the OS keyring, recovering recordings
// a crash interrupted: their consent records are closed with a Recovered
// event at the end of their sealed audio, signed with the device key.
//
// The device key is only known once the vault is open, so when a recording
// needs recovery the vault is opened a second time with the key in hand (the
// vault keeps a recording in progress until its record could be closed).
func OpenVault(dir string, secrets vault.SecretStore) (*vault.Vault, *vault.OpenReport, error) {
	pending := false
	v, rep, err := vault.Open(dir, vault.Options{Secrets: secrets, Recover: func(string, []byte, vault.SealedAudio) ([]byte, error) {
		pending = true
		return nil, errDeferred
	}})
	if err != nil || !pending {
		return v, rep, err
	}
	signer := v.Signer()
	v2, rep2, err := vault.Open(dir, vault.Options{Secrets: secrets, Recover: func(id string, record []byte, sealed vault.SealedAudio) ([]byte, error) {
		return CloseRecovered(record, sealed, signer)
	}})
	if err == nil {
		// Audio-free recordings were removed by the first pass: report them.
		for _, r := range rep.Recovered {
			if r.Removed {
				rep2.Recovered = append(rep2.Recovered, r)
			}
		}
	}
	return v2, rep2, err
}

// CloseRecovered closes the consent record of a recording a crash
// interrupted: the sealed segments it does not list yet are bound to it and
// it is closed at the end of its sealed audio (consent.Recover; idempotent).
func CloseRecovered(record []byte, sealed vault.SealedAudio, signer ed25519.PrivateKey) ([]byte, error) {
	if record == nil {
		return nil, errors.New("no consent record was stored for it")
	}
	return consent.Recover(record, sealed.Segments, sealed.End, signer, time.Now())
}

// Notices renders the current notice set for the settings at
// config.Path(); see NoticesAt.
func Notices(cfg config.Config) (*consent.NoticeSet, *consent.Library, error) {
	set, lib, _, err := NoticesAt(cfg, config.Path())
	return set, lib, err
}

// Receipts returns the human-readable receipt of every participant of a
// recording, keyed by a file name (receipt-<id>-<name>.txt).
func Receipts(v *vault.Vault, id string) (map[string][]byte, error) {
	data, err := v.Record(id)
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	if data == nil {
		return out, nil
	}
	rec, err := consent.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("the stored consent record cannot be read: %w", err)
	}
	for _, ev := range rec.Events {
		if ev.Type != consent.ParticipantAdded || ev.Principal == nil {
			continue
		}
		txt, err := consent.Receipt(rec, ev.Participant)
		if err != nil {
			return nil, err
		}
		out[fmt.Sprintf("receipt-%s-%s.txt", ev.Participant, SafeName(ev.Principal.Name))] = []byte(txt)
	}
	return out, nil
}

// Export writes a recording with its consent record and receipts into dir
// and returns the paths written.
func Export(v *vault.Vault, id, dir string) ([]string, error) {
	extras, err := Receipts(v, id)
	if err != nil {
		return nil, err
	}
	for name, b := range NoticeFiles(v, id) {
		extras[name] = b
	}
	return v.Export(id, dir, extras)
}

// SafeName reduces s to a short file-name-safe form.
func SafeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= 40 {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteRune('-')
		}
	}
	if b.Len() == 0 {
		return "participant"
	}
	return b.String()
}
