package server

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/assent-app/assent/consent"
	"github.com/assent-app/assent/sync/api"
)

// The organisation's policy (issue 11 item 3, the server half of issue 10).
//
// The administrator sets the policy (`assentd policy set` or
// PUT /v1/admin/policy); every change is a new version, signed with the
// server's policy key (consent.SignPolicy) and kept for ever, so a record
// made under an older version can still be checked. Devices learn the
// policy public key at enrolment and fetch the signed policy on every sync
// (GET /v1/policy). A registration or finalisation is refused unless
//
//   - the record's notice texts (language and SHA-256) are all among the
//     notices one issued version renders (consent.Policy.Notices), and
//   - its retention and minimum age equal those of the version in force
//     when the call started (the newest version issued at or before the
//     record's createdAt; a call older than the first version is held to
//     the first version).
//
// With no policy set, registration is refused with policy-not-set.

// ErrNoPolicy means the organisation has not set its policy.
var ErrNoPolicy = errors.New("the organisation has not set its policy: run assentd policy set -controller NAME -contact ADDRESS (see docs/operations.md)")

type PolicyRequest = api.PolicyRequest

type PolicyAnswer = api.PolicyAnswer

// policyVersion is one issued version with the notice hashes it renders.
type policyVersion struct {
	stored  StoredPolicy
	policy  consent.Policy
	issued  time.Time
	notices map[string]bool // lang + "\x00" + sha256
}

func (s *Server) policyPub() ed25519.PublicKey {
	return s.cfg.PolicyKey.Public().(ed25519.PublicKey)
}

// SetPolicy issues a new policy version and audits it.
func (s *Server) SetPolicy(ctx context.Context, req PolicyRequest) (PolicyAnswer, error) {
	return SetPolicy(ctx, s.cfg.Store, s.cfg.PolicyKey, s.notices(), req, s.now())
}

func (s *Server) notices() *consent.Library { return s.cfg.Notices }

// SetPolicy issues a new version on the database directly (`assentd policy set`).
func SetPolicy(ctx context.Context, st Store, key ed25519.PrivateKey, lib *consent.Library, req PolicyRequest, now time.Time) (PolicyAnswer, error) {
	if len(key) != ed25519.PrivateKeySize {
		return PolicyAnswer{}, errors.New("no policy key configured")
	}
	if req.NoticeID == "" {
		req.NoticeID = consent.DefaultNoticeID
	}
	if req.NoticeVersion == "" {
		v, err := lib.Latest(req.NoticeID)
		if err != nil {
			return PolicyAnswer{}, err
		}
		req.NoticeVersion = v
	}
	if consent.IsPlaceholder(req.Org.Controller) || consent.IsPlaceholder(req.Org.Contact) {
		return PolicyAnswer{}, fmt.Errorf("%w: the controller (your organisation's name) and the contact (an e-mail address or URL for privacy questions) are required", consent.ErrBadOrg)
	}
	for attempt := 0; attempt < 5; attempt++ {
		have, err := st.Policies(ctx)
		if err != nil {
			return PolicyAnswer{}, err
		}
		p := consent.Policy{Version: len(have) + 1, IssuedAt: now.UTC().Format(time.RFC3339), NoticeID: req.NoticeID, NoticeVersion: req.NoticeVersion, Org: req.Org}
		if len(have) > 0 {
			p.Version = have[len(have)-1].Version + 1
		}
		if _, err := p.Notices(lib); err != nil {
			return PolicyAnswer{}, err
		}
		sp, err := consent.SignPolicy(p, key)
		if err != nil {
			return PolicyAnswer{}, err
		}
		err = st.AddPolicy(ctx, StoredPolicy{Version: p.Version, Issued: now.UTC(), Policy: sp.Policy, KeyID: sp.KeyID, Signature: sp.Signature})
		if errors.Is(err, ErrExists) {
			continue // another admin set a version at the same moment
		}
		if err != nil {
			return PolicyAnswer{}, err
		}
		st.AddAudit(ctx, AuditEntry{Time: now.UTC(), Actor: "admin", Action: "policy.set", Detail: fmt.Sprintf("version %d (%s)", p.Version, sp.Hash())})
		return PolicyAnswer{Version: p.Version, Policy: sp, PublicKey: base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey)), Hash: sp.Hash()}, nil
	}
	return PolicyAnswer{}, errors.New("the policy changed concurrently five times; try again")
}

// policyVersions loads every issued version with its notice hashes.
func (s *Server) policyVersions(ctx context.Context) ([]policyVersion, error) {
	stored, err := s.cfg.Store.Policies(ctx)
	if err != nil {
		return nil, err
	}
	var out []policyVersion
	for _, sp := range stored {
		s.policyMu.Lock()
		pv, ok := s.policyCache[sp.Version]
		s.policyMu.Unlock()
		if !ok {
			signed := consent.SignedPolicy{Policy: sp.Policy, KeyID: sp.KeyID, Signature: sp.Signature}
			p, err := signed.Open(s.policyPub())
			if err != nil {
				return nil, fmt.Errorf("stored policy version %d: %w (was the policy key replaced?)", sp.Version, err)
			}
			set, err := p.Notices(s.notices())
			if err != nil {
				return nil, fmt.Errorf("stored policy version %d: %w", sp.Version, err)
			}
			pv = policyVersion{stored: sp, policy: p, issued: sp.Issued, notices: map[string]bool{}}
			for _, lang := range set.Langs() {
				n := set.Texts[lang]
				pv.notices[lang+"\x00"+n.SHA256] = true
			}
			s.policyMu.Lock()
			s.policyCache[sp.Version] = pv
			s.policyMu.Unlock()
		}
		out = append(out, pv)
	}
	return out, nil
}

// checkPolicy checks a verified record's header against the issued policies.
func (s *Server) checkPolicy(ctx context.Context, record []byte) error {
	vs, err := s.policyVersions(ctx)
	if err != nil {
		return err
	}
	if len(vs) == 0 {
		return ErrNoPolicy
	}
	var r consent.Record
	if err := json.Unmarshal(record, &r); err != nil {
		return err
	}
	issuedBy := -1
	for i, v := range vs {
		all := len(r.Notice.Texts) > 0
		for _, t := range r.Notice.Texts {
			if !v.notices[t.Lang+"\x00"+t.SHA256] {
				all = false
				break
			}
		}
		if all {
			issuedBy = i
		}
	}
	if issuedBy < 0 {
		return errPolicyMismatch(fmt.Sprintf("the record's notice %s version %s (%d texts) is not a notice this organisation issued; the device must use the policy it received from the server (sync again, then record)", r.Notice.ID, r.Notice.Version, len(r.Notice.Texts)))
	}
	started, err := time.Parse(time.RFC3339Nano, r.CreatedAt)
	if err != nil {
		return errPolicyMismatch("the record's createdAt is not a time")
	}
	inForce := vs[0]
	for _, v := range vs {
		if !v.issued.After(started) {
			inForce = v
		}
	}
	org := inForce.policy.Org.WithDefaults()
	if r.RetentionMonths != org.RetentionMonths || r.MinAge != org.MinAge {
		return errPolicyMismatch(fmt.Sprintf("the record keeps recordings %d months with minimum age %d, the organisation's policy (version %d, in force when the call started) says %d months and %d",
			r.RetentionMonths, r.MinAge, inForce.policy.Version, org.RetentionMonths, org.MinAge))
	}
	return nil
}

type errPolicyMismatch string

func (e errPolicyMismatch) Error() string { return string(e) }

// policyProblem writes the problem for a checkPolicy error; false if none.
func (s *Server) policyProblem(w http.ResponseWriter, err error) bool {
	var pm errPolicyMismatch
	switch {
	case err == nil:
		return false
	case errors.Is(err, ErrNoPolicy):
		problem(w, http.StatusConflict, "policy-not-set", "The organisation has not set its policy", ErrNoPolicy.Error()+". Recordings are accepted once the administrator has set it.")
	case errors.As(err, &pm):
		s.metrics.recordRejected.Add(1)
		problem(w, http.StatusUnprocessableEntity, "policy-mismatch", "Consent record does not follow the organisation's policy", err.Error()+".")
	default:
		s.internal(w, "checking the organisation's policy", err)
	}
	return true
}

func (s *Server) latestPolicy(ctx context.Context) (*PolicyAnswer, error) {
	vs, err := s.policyVersions(ctx)
	if err != nil || len(vs) == 0 {
		return nil, err
	}
	sp := vs[len(vs)-1].stored
	signed := consent.SignedPolicy{Policy: sp.Policy, KeyID: sp.KeyID, Signature: sp.Signature}
	return &PolicyAnswer{Version: sp.Version, Policy: signed, PublicKey: base64.StdEncoding.EncodeToString(s.policyPub()), Hash: signed.Hash()}, nil
}

func (s *Server) getPolicy(w http.ResponseWriter, r *http.Request, _ Device) {
	p, err := s.latestPolicy(r.Context())
	if err != nil {
		s.internal(w, "reading the policy", err)
		return
	}
	if p == nil {
		problem(w, http.StatusNotFound, "policy-not-set", "The organisation has not set its policy", ErrNoPolicy.Error()+".")
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (s *Server) adminGetPolicy(w http.ResponseWriter, r *http.Request) {
	vs, err := s.policyVersions(r.Context())
	if err != nil {
		s.internal(w, "reading the policy", err)
		return
	}
	out := []PolicyAnswer{}
	for _, v := range vs {
		signed := consent.SignedPolicy{Policy: v.stored.Policy, KeyID: v.stored.KeyID, Signature: v.stored.Signature}
		out = append(out, PolicyAnswer{Version: v.stored.Version, Policy: signed, PublicKey: base64.StdEncoding.EncodeToString(s.policyPub()), Hash: signed.Hash()})
	}
	writeJSON(w, http.StatusOK, map[string]any{"versions": out})
}

func (s *Server) adminSetPolicy(w http.ResponseWriter, r *http.Request) {
	var req PolicyRequest
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		problem(w, http.StatusRequestEntityTooLarge, "too-large", "Body too large", "A policy is a small JSON object; send at most 64 KiB.")
		return
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		problem(w, http.StatusBadRequest, "bad-policy", "Invalid policy", "The body must be {\"noticeId\", \"noticeVersion\", \"org\": {\"Controller\", \"Contact\", …}}: "+err.Error()+".")
		return
	}
	ans, err := s.SetPolicy(r.Context(), req)
	if errors.Is(err, consent.ErrBadOrg) || errors.Is(err, consent.ErrNoNotice) {
		problem(w, http.StatusBadRequest, "bad-policy", "Invalid policy", err.Error())
		return
	}
	if err != nil {
		s.internal(w, "setting the policy", err)
		return
	}
	writeJSON(w, http.StatusCreated, ans)
}
