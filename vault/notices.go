package vault

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/assent-app/assent/internal/crashpoint"
)

// noticesDir is the directory inside a recording's directory that holds the
// exact rendered notice texts of its call, each encrypted like the rest of
// the vault and named by the SHA-256 of its plaintext: notices/<sha256>.md.age
// (docs/vault.md).
const noticesDir = "notices"

const noticeSuffix = ".md.age"

// StoreNotices stores the exact rendered notice texts of the recording's
// call (every language offered), encrypted and content-addressed by the
// SHA-256 of each text, each written atomically and durably. The recording
// package calls it before the first consent record is saved, so every text
// a record cites is on disk before the record. Storing a text twice is
// harmless (same name, same bytes).
func (w *SegmentWriter) StoreNotices(texts [][]byte) error {
	if len(texts) == 0 {
		return nil
	}
	dir := filepath.Join(w.dir, noticesDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("vault: cannot store the notice texts: %w", diskErr("create notices", err))
	}
	if err := syncDir(w.dir); err != nil {
		return fmt.Errorf("vault: cannot store the notice texts: %w", err)
	}
	for _, t := range texts {
		sum := sha256.Sum256(t)
		ct, err := encrypt(t, w.v.keys.recipient)
		if err != nil {
			return err
		}
		if err := writeAtomic(filepath.Join(dir, hex.EncodeToString(sum[:])+noticeSuffix), ct, 0o600); err != nil {
			return fmt.Errorf("vault: cannot store a notice text: %w", err)
		}
		crashpoint.Hit(crashpoint.NoticeStore)
	}
	return nil
}

// Notices returns the notice texts stored with a recording, by the hex
// SHA-256 of each text. Each text is decrypted and its SHA-256 checked
// against its name; a mismatch fails with an error matching [ErrDamaged].
// A recording made before texts were stored has none: the map is empty and
// the error nil.
func (v *Vault) Notices(id string) (map[string][]byte, error) {
	if _, err := v.lookup(id); err != nil {
		return nil, err
	}
	dir := filepath.Join(v.recDir(id), noticesDir)
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string][]byte{}, nil
	}
	if err != nil {
		return nil, err
	}
	names := []string{}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), noticeSuffix) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	out := map[string][]byte{}
	for _, name := range names {
		want := strings.TrimSuffix(name, noticeSuffix)
		what := id + "/" + noticesDir + "/" + name
		ct, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		pt, err := decrypt(ct, v.keys.identity, what)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(pt)
		if hex.EncodeToString(sum[:]) != want {
			return nil, fmt.Errorf("vault: %s: the text's SHA-256 does not match its name: %w", what, ErrDamaged)
		}
		out[want] = pt
	}
	return out, nil
}
