package consent

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Policy is the organisation's notice facts as one object: who the
// controller is, whom to contact, how long recordings are kept, the minimum
// age, and which notice (id and version) carries them. On an enrolled device
// it comes from the organisation's server, signed ([SignedPolicy]); on a
// device that is not enrolled the user sets the same facts in the settings.
//
// The notices a policy issues are exactly [Policy.Notices]: rendering is a
// pure function of the notice templates and the policy, so the server and
// every device compute the same texts and SHA-256 hashes.
type Policy struct {
	// Version increases by one with every change; set by the server (0 on
	// a device that is not enrolled).
	Version int `json:"version"`
	// IssuedAt is when this version was issued (RFC 3339, UTC).
	IssuedAt string `json:"issuedAt"`
	// NoticeID and NoticeVersion name the notice templates rendered.
	NoticeID      string `json:"noticeId"`
	NoticeVersion string `json:"noticeVersion"`
	// Org are the facts rendered into the notice.
	Org OrgParams `json:"org"`
}

// Validate reports the first problem of p with what to fix.
func (p Policy) Validate() error {
	if p.Version < 0 {
		return fmt.Errorf("%w: policy version %d is negative", ErrBadOrg, p.Version)
	}
	if p.IssuedAt != "" {
		if _, err := time.Parse(time.RFC3339, p.IssuedAt); err != nil {
			return fmt.Errorf("%w: policy issue time %q is not RFC 3339", ErrBadOrg, p.IssuedAt)
		}
	}
	if !idRe.MatchString(p.NoticeID) || !verRe.MatchString(p.NoticeVersion) {
		return fmt.Errorf("%w: policy names notice %q version %q; use an id like %q and a version like \"1\"", ErrBadOrg, p.NoticeID, p.NoticeVersion, DefaultNoticeID)
	}
	return p.Org.WithDefaults().Validate()
}

// Notices renders every language of the policy's notice: the texts (and
// their hashes) this policy issues. The server checks records against them
// and an enrolled device shows them, so both compute the same hashes.
func (p Policy) Notices(l *Library) (*NoticeSet, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	// Explicit: a free text equal to Assent's English default is rendered
	// as the default in each notice's own language, exactly as a device
	// that is not enrolled renders its settings (workspace.NoticesAt).
	return l.RenderSet(p.NoticeID, p.NoticeVersion, p.Org.Explicit())
}

// SignedPolicy is a policy as the server distributes it: the exact JSON
// bytes of the [Policy] and an Ed25519 signature over them. Signing the
// bytes (not a re-encoding) lets the Policy gain fields without breaking old
// signatures.
type SignedPolicy struct {
	Policy    json.RawMessage `json:"policy"`
	KeyID     string          `json:"keyId"`     // KeyID of the server's policy-signing key
	Signature string          `json:"signature"` // base64 (std, padded) Ed25519 over policySigned(Policy)
}

// ErrPolicy is wrapped by every error about a signed policy.
var ErrPolicy = errors.New("consent: organisation policy is not valid")

func policySigned(policyJSON []byte) []byte {
	var b bytes.Buffer
	b.WriteString("assent.policy.v1")
	b.WriteByte(0)
	b.Write(policyJSON)
	return b.Bytes()
}

// SignPolicy encodes p and signs it with the server's policy key.
func SignPolicy(p Policy, key ed25519.PrivateKey) (SignedPolicy, error) {
	if err := p.Validate(); err != nil {
		return SignedPolicy{}, err
	}
	b, err := json.Marshal(p)
	if err != nil {
		return SignedPolicy{}, fmt.Errorf("%w: encoding: %v", ErrPolicy, err)
	}
	pub := key.Public().(ed25519.PublicKey)
	return SignedPolicy{Policy: b, KeyID: KeyID(pub),
		Signature: base64.StdEncoding.EncodeToString(ed25519.Sign(key, policySigned(b)))}, nil
}

// Open checks the signature with the server's public key and returns the
// policy. Unknown fields are rejected.
func (s SignedPolicy) Open(pub ed25519.PublicKey) (Policy, error) {
	if s.KeyID != KeyID(pub) {
		return Policy{}, fmt.Errorf("%w: signed by key %s, expected the server's key %s", ErrPolicy, s.KeyID, KeyID(pub))
	}
	sig, err := base64.StdEncoding.DecodeString(s.Signature)
	if err != nil || !ed25519.Verify(pub, policySigned(s.Policy), sig) {
		return Policy{}, fmt.Errorf("%w: the signature does not verify", ErrPolicy)
	}
	var p Policy
	dec := json.NewDecoder(bytes.NewReader(s.Policy))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Policy{}, fmt.Errorf("%w: %v", ErrPolicy, err)
	}
	if err := p.Validate(); err != nil {
		return Policy{}, fmt.Errorf("%w: %v", ErrPolicy, err)
	}
	return p, nil
}

// Hash is the hex SHA-256 of the signed policy bytes: the id of a policy
// version that a record or an audit entry can cite.
func (s SignedPolicy) Hash() string {
	sum := sha256.Sum256(s.Policy)
	return hex.EncodeToString(sum[:])
}

// IsPlaceholder reports whether a controller or contact value is empty or
// one of the placeholders older versions shipped as defaults; such a value
// must never reach a participant.
func IsPlaceholder(s string) bool {
	s = strings.ToLower(strings.TrimSpace(s))
	return s == "" || strings.Contains(s, "the organisation of the person recording") ||
		strings.Contains(s, "the person recording this call")
}
