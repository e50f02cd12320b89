package vault

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/zalando/go-keyring"

	"github.com/assent-app/assent/internal/sessionbus"
)

// KeyringService is the service name under which the vault keeps its
// secrets in the OS keyring.
const KeyringService = "app.assent.recorder"

// SecretStore is the part of an OS keyring the vault uses. [OSKeyring]
// returns the real one; tests may pass another (for example go-keyring
// after keyring.MockInit()).
type SecretStore interface {
	Get(service, user string) (string, error)
	Set(service, user, secret string) error
	Delete(service, user string) error
}

// OSKeyring returns the operating system's keyring (Secret Service on Linux,
// Keychain on macOS, Credential Manager on Windows) via go-keyring, with
// every call bounded by [DefaultKeyringTimeout].
func OSKeyring() SecretStore { return OSKeyringTimeout(DefaultKeyringTimeout) }

// DefaultKeyringTimeout bounds each call to the OS keyring made through
// [OSKeyring]. A keyring that asks for its password may take longer: the
// call then ends with [ErrKeyringTimeout] while the prompt stays open, and a
// later call (after the user unlocked it) succeeds.
const DefaultKeyringTimeout = 8 * time.Second

// OSKeyringTimeout is [OSKeyring] with each call bounded by d.
//
// On Linux and the BSDs the keyring is the Secret Service on the D-Bus
// session bus. Before any call it checks that a session bus exists
// (DBUS_SESSION_BUS_ADDRESS, or the bus socket of the user's runtime
// directory); without one it fails at once with [ErrNoSessionBus] instead
// of letting the D-Bus library autolaunch a private bus (dbus-launch), which
// leaves a dbus-daemon behind and can wait two minutes for a keyring that
// never answers. Each call runs in a goroutine of its own and is abandoned
// after d ([ErrKeyringTimeout]); at most one abandoned call is outstanding
// at a time, later calls wait for it within their own d.
func OSKeyringTimeout(d time.Duration) SecretStore {
	return &timedStore{inner: goKeyring{}, timeout: d, needBus: usesSecretService(runtime.GOOS)}
}

type goKeyring struct{}

func (goKeyring) Get(s, u string) (string, error) { return keyring.Get(s, u) }
func (goKeyring) Set(s, u, p string) error        { return keyring.Set(s, u, p) }
func (goKeyring) Delete(s, u string) error        { return keyring.Delete(s, u) }

// usesSecretService says whether go-keyring talks to the Secret Service over
// D-Bus on goos (everything but macOS and Windows).
func usesSecretService(goos string) bool {
	return goos != "darwin" && goos != "windows" && goos != "ios" && goos != "android" && goos != "js"
}

// keyringSlot is held by the one keyring call in flight; an abandoned call
// holds it until the keyring finally answers.
var keyringSlot = make(chan struct{}, 1)

// timedStore bounds every call of inner by timeout and refuses to start
// one without a session bus.
type timedStore struct {
	inner   SecretStore
	timeout time.Duration
	needBus bool
}

func (t *timedStore) Get(s, u string) (string, error) {
	var out string
	err := t.do(func() error {
		var err error
		out, err = t.inner.Get(s, u)
		return err
	})
	return out, err
}

func (t *timedStore) Set(s, u, p string) error {
	return t.do(func() error { return t.inner.Set(s, u, p) })
}

func (t *timedStore) Delete(s, u string) error {
	return t.do(func() error { return t.inner.Delete(s, u) })
}

func (t *timedStore) do(f func() error) error {
	if t.needBus {
		if err := SessionBus(); err != nil {
			return err
		}
	}
	timer := time.NewTimer(t.timeout)
	defer timer.Stop()
	select {
	case keyringSlot <- struct{}{}:
	case <-timer.C:
		return ErrKeyringTimeout
	}
	done := make(chan error, 1)
	go func() {
		defer func() { <-keyringSlot }()
		done <- f()
	}()
	select {
	case err := <-done:
		return err
	case <-timer.C:
		return ErrKeyringTimeout
	}
}

// SessionBus reports whether a D-Bus session bus can be reached without
// starting one (see internal/sessionbus): nil, or [ErrNoSessionBus].
func SessionBus() error { return sessionbus.Available() }

// Keyring failures, matched with errors.Is on a [*KeyringError] (or on what
// an [OSKeyring] call returns). They say what happened; what to do about it
// is for the app and the command line to add, in their own words.
var (
	// ErrNoSessionBus: there is no D-Bus session bus, so no Secret Service
	// can be asked (a bare X session, SSH with X forwarding, some window
	// managers). Nothing was started to make one.
	ErrNoSessionBus = sessionbus.ErrNoSessionBus
	// ErrNoSecretService: the session bus works but no keyring service
	// (Secret Service) runs on it.
	ErrNoSecretService = errors.New("no system keyring (Secret Service) is running in this desktop session")
	// ErrKeyringLocked: the keyring exists but is locked (or its unlock
	// prompt was dismissed).
	ErrKeyringLocked = errors.New("the system keyring is locked")
	// ErrKeyringTimeout: the keyring did not answer in time (it may be
	// showing a password prompt).
	ErrKeyringTimeout = errors.New("the system keyring did not answer in time")
	// ErrKeyMissing: the keyring works but does not hold this vault's key.
	ErrKeyMissing = errors.New("the system keyring does not hold this library's key")
)

// KeyringProblem says why the keyring could not give the vault its keys.
type KeyringProblem int

const (
	// KeyringUnavailable: there is no keyring service to talk to.
	KeyringUnavailable KeyringProblem = iota + 1
	// KeyringLocked: the keyring exists but is locked.
	KeyringLocked
	// KeyMissing: the keyring works but does not hold this vault's key.
	KeyMissing
	// KeyringFailed: any other keyring failure.
	KeyringFailed
	// KeyringNoBus: there is no D-Bus session bus to find a keyring on.
	KeyringNoBus
	// KeyringTimeout: the keyring did not answer in time.
	KeyringTimeout
)

// KeyringError is returned when the vault's secret keys cannot be read from
// or stored in the OS keyring. Recording and playback are refused; the vault
// never falls back to keeping keys in a file. Its message says what
// happened in plain words; Err (the keyring's own words, with D-Bus names)
// is for the log.
type KeyringError struct {
	Problem KeyringProblem
	KeyID   string // the vault's key id, if known
	Err     error  // what the keyring said
}

func (e *KeyringError) sentinel() error {
	switch e.Problem {
	case KeyringNoBus:
		return ErrNoSessionBus
	case KeyringUnavailable:
		return ErrNoSecretService
	case KeyringLocked:
		return ErrKeyringLocked
	case KeyringTimeout:
		return ErrKeyringTimeout
	case KeyMissing:
		return ErrKeyMissing
	}
	return nil
}

func (e *KeyringError) Error() string {
	what := "the system keyring failed"
	if s := e.sentinel(); s != nil {
		what = s.Error()
	}
	return what + "; nothing was recorded or stored unencrypted"
}

// Is matches the sentinel of e's Problem (ErrNoSessionBus, …).
func (e *KeyringError) Is(target error) bool {
	s := e.sentinel()
	return s != nil && target == s
}

func (e *KeyringError) Unwrap() error { return e.Err }

// classifyKeyring maps go-keyring's errors (measured texts, see
// /work/shared/TESTING.md) to a KeyringError.
func classifyKeyring(err error, keyID string) *KeyringError {
	p := KeyringFailed
	msg := err.Error()
	switch {
	case errors.Is(err, ErrNoSessionBus):
		p = KeyringNoBus
	case errors.Is(err, ErrKeyringTimeout):
		p = KeyringTimeout
	case errors.Is(err, keyring.ErrNotFound):
		p = KeyMissing
	case strings.Contains(msg, "dbus-launch"),
		strings.Contains(msg, "DBUS_SESSION_BUS_ADDRESS"),
		strings.Contains(msg, "couldn't determine address of session bus"):
		p = KeyringNoBus
	case strings.Contains(msg, "org.freedesktop.secrets"),
		strings.Contains(msg, "not provided by any .service"),
		strings.Contains(msg, "connection refused"),
		strings.Contains(msg, "no such file or directory"):
		p = KeyringUnavailable
	case strings.Contains(msg, "unlock"), strings.Contains(msg, "locked"), strings.Contains(msg, "Dismissed"):
		p = KeyringLocked
	}
	return &KeyringError{Problem: p, KeyID: keyID, Err: err}
}

// ErrWrongKey is matched by errors raised when a file was encrypted to a
// different key than the one the keyring holds for this vault.
var ErrWrongKey = errors.New("the key in the keyring does not match this vault")

// config is vault.json: public key material only.
type config struct {
	Format           int    `json:"format"`
	KeyID            string `json:"key_id"`
	Recipient        string `json:"recipient"`
	SigningPublicKey string `json:"signing_public_key"`
	EscrowRecipient  string `json:"escrow_recipient,omitempty"`
	Created          string `json:"created"`
	// PreviousSigningKeys are signing public keys replaced by RestoreKey;
	// records signed with them stay verifiable.
	PreviousSigningKeys []string `json:"previous_signing_public_keys,omitempty"`
}

const formatVersion = 1

func parseConfig(data []byte) (*config, error) {
	var c config
	if err := strictUnmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("vault.json is not valid JSON: %v", err)
	}
	if c.Format != formatVersion {
		return nil, fmt.Errorf("vault.json has format %d; this version of Assent reads format %d", c.Format, formatVersion)
	}
	if len(c.KeyID) != 16 {
		return nil, fmt.Errorf("vault.json has a malformed key_id")
	}
	if _, err := hex.DecodeString(c.KeyID); err != nil {
		return nil, fmt.Errorf("vault.json has a malformed key_id")
	}
	if _, err := age.ParseX25519Recipient(c.Recipient); err != nil {
		return nil, fmt.Errorf("vault.json has a malformed recipient: %v", err)
	}
	pk, err := base64.StdEncoding.DecodeString(c.SigningPublicKey)
	if err != nil || len(pk) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("vault.json has a malformed signing_public_key")
	}
	for _, p := range c.PreviousSigningKeys {
		if pk, err := base64.StdEncoding.DecodeString(p); err != nil || len(pk) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("vault.json has a malformed previous_signing_public_keys entry")
		}
	}
	if c.EscrowRecipient != "" {
		if _, err := age.ParseX25519Recipient(c.EscrowRecipient); err != nil {
			return nil, fmt.Errorf("vault.json has a malformed escrow_recipient: %v", err)
		}
	}
	return &c, nil
}

func strictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// keys is the device key material of an open vault.
type keys struct {
	id        string
	identity  *age.X25519Identity
	recipient *age.X25519Recipient
	signer    ed25519.PrivateKey
	escrow    *age.X25519Recipient
}

func keyUser(keyID, what string) string { return "vault-" + keyID + "/" + what }

// createKeys makes new keys and stores their secrets in the keyring.
func createKeys(store SecretStore) (*keys, *config, error) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, nil, err
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	var kid [8]byte
	rand.Read(kid[:])
	k := &keys{id: hex.EncodeToString(kid[:]), identity: id, recipient: id.Recipient(), signer: priv}
	if err := store.Set(KeyringService, keyUser(k.id, "age-identity"), id.String()); err != nil {
		return nil, nil, classifyKeyring(err, k.id)
	}
	if err := store.Set(KeyringService, keyUser(k.id, "ed25519-signing-key"), base64.StdEncoding.EncodeToString(priv.Seed())); err != nil {
		store.Delete(KeyringService, keyUser(k.id, "age-identity"))
		return nil, nil, classifyKeyring(err, k.id)
	}
	c := &config{
		Format:           formatVersion,
		KeyID:            k.id,
		Recipient:        k.recipient.String(),
		SigningPublicKey: base64.StdEncoding.EncodeToString(priv.Public().(ed25519.PublicKey)),
		Created:          time.Now().UTC().Format(time.RFC3339),
	}
	return k, c, nil
}

// loadKeys reads the secrets named by c from the keyring and checks that
// they match the public keys in c.
func loadKeys(store SecretStore, c *config) (*keys, error) {
	s, err := store.Get(KeyringService, keyUser(c.KeyID, "age-identity"))
	if err != nil {
		return nil, classifyKeyring(err, c.KeyID)
	}
	id, err := age.ParseX25519Identity(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("vault: the keyring entry for key %s is not an age identity (%v); restore it from `assent key export`", c.KeyID, err)
	}
	if id.Recipient().String() != c.Recipient {
		return nil, fmt.Errorf("vault: %w: keyring key %s opens %s, but vault.json names %s; restore the matching key from its backup", ErrWrongKey, c.KeyID, id.Recipient(), c.Recipient)
	}
	s, err = store.Get(KeyringService, keyUser(c.KeyID, "ed25519-signing-key"))
	if err != nil {
		return nil, classifyKeyring(err, c.KeyID)
	}
	seed, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("vault: the keyring entry for the signing key %s is malformed; restore it from its backup", c.KeyID)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	if base64.StdEncoding.EncodeToString(priv.Public().(ed25519.PublicKey)) != c.SigningPublicKey {
		return nil, fmt.Errorf("vault: %w: the signing key in the keyring does not match vault.json", ErrWrongKey)
	}
	k := &keys{id: c.KeyID, identity: id, recipient: id.Recipient(), signer: priv}
	if c.EscrowRecipient != "" {
		k.escrow, _ = age.ParseX25519Recipient(c.EscrowRecipient)
	}
	return k, nil
}

// segmentRecipients are the recipients of audio segments: the device and,
// when configured, the organisation's escrow key.
func (k *keys) segmentRecipients() []age.Recipient {
	r := []age.Recipient{k.recipient}
	if k.escrow != nil {
		r = append(r, k.escrow)
	}
	return r
}

// KeyExport writes the vault's age identity in the standard age key file
// format (as age-keygen writes it). With that file, `age -d -i key.txt
// seg-000001.age` decrypts any segment of this vault. The output is a secret:
// the caller must write it only where the user asked.
func (v *Vault) KeyExport(w io.Writer) error {
	_, err := fmt.Fprintf(w, "# Assent vault key %s\n# created: %s\n# public key: %s\n%s\n",
		v.keys.id, v.cfg.Created, v.keys.recipient, v.keys.identity)
	return err
}

// Recipient returns the vault's public age recipient (age1…).
func (v *Vault) Recipient() string { return v.keys.recipient.String() }

// Signer returns the device's Ed25519 key for signing consent records.
func (v *Vault) Signer() ed25519.PrivateKey { return v.keys.signer }

// SigningPublicKey returns the device's Ed25519 public key.
func (v *Vault) SigningPublicKey() ed25519.PublicKey {
	return v.keys.signer.Public().(ed25519.PublicKey)
}

// SetEscrow configures the organisation's escrow recipient (age1…): every
// segment sealed from now on is also encrypted to it. An empty string
// removes it.
func (v *Vault) SetEscrow(recipient string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	var r *age.X25519Recipient
	if recipient != "" {
		var err error
		r, err = age.ParseX25519Recipient(recipient)
		if err != nil {
			return fmt.Errorf("vault: %q is not an age X25519 recipient (want age1…): %v", clip(recipient), err)
		}
	}
	c := *v.cfg
	c.EscrowRecipient = recipient
	if err := v.writeConfig(&c); err != nil {
		return err
	}
	v.cfg = &c
	v.keys.escrow = r
	return nil
}

// RestoreKey puts the age identity from a key file written by
// [Vault.KeyExport] (or age-keygen) back into the keyring for the vault at
// root, after checking that it is the identity vault.json names. If the
// keyring has lost the signing key too, a new one is made and vault.json
// keeps the old public key in previous_signing_public_keys, so records
// signed before stay verifiable. Nothing secret is written to disk.
func RestoreKey(root string, store SecretStore, keyFile io.Reader) error {
	if store == nil {
		store = OSKeyring()
	}
	data, err := os.ReadFile(filepath.Join(root, configFile))
	if err != nil {
		return fmt.Errorf("vault: cannot read %s: %w; a key can only be restored into an existing vault", filepath.Join(root, configFile), err)
	}
	c, err := parseConfig(data)
	if err != nil {
		return fmt.Errorf("vault: %s: %v", filepath.Join(root, configFile), err)
	}
	ids, err := age.ParseIdentities(io.LimitReader(keyFile, 1<<20))
	if err != nil {
		return fmt.Errorf("vault: the key file is not an age identity file (%v); give the file written by `assent key export`", err)
	}
	var id *age.X25519Identity
	for _, i := range ids {
		if x, ok := i.(*age.X25519Identity); ok && x.Recipient().String() == c.Recipient {
			id = x
		}
	}
	if id == nil {
		return fmt.Errorf("vault: %w: the key file holds no identity for %s (this vault's recipient); it belongs to another vault", ErrWrongKey, c.Recipient)
	}
	if err := store.Set(KeyringService, keyUser(c.KeyID, "age-identity"), id.String()); err != nil {
		return classifyKeyring(err, c.KeyID)
	}
	_, err = store.Get(KeyringService, keyUser(c.KeyID, "ed25519-signing-key"))
	if err == nil {
		return nil
	}
	if !errors.Is(err, keyring.ErrNotFound) {
		return classifyKeyring(err, c.KeyID)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	if err := store.Set(KeyringService, keyUser(c.KeyID, "ed25519-signing-key"), base64.StdEncoding.EncodeToString(priv.Seed())); err != nil {
		return classifyKeyring(err, c.KeyID)
	}
	c.PreviousSigningKeys = append(c.PreviousSigningKeys, c.SigningPublicKey)
	c.SigningPublicKey = base64.StdEncoding.EncodeToString(pub)
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(root, configFile), append(b, '\n'), 0o600)
}

// PreviousSigningPublicKeys returns signing public keys this device used
// before a [RestoreKey] replaced a lost signing key (oldest first).
func (v *Vault) PreviousSigningPublicKeys() []ed25519.PublicKey {
	var out []ed25519.PublicKey
	for _, p := range v.cfg.PreviousSigningKeys {
		if b, err := base64.StdEncoding.DecodeString(p); err == nil {
			out = append(out, ed25519.PublicKey(b))
		}
	}
	return out
}
