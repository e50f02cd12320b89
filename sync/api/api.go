// Package api is the one definition of assentd's HTTP API shared by the
// server (sync/server) and its clients (sync, and through it the app and the
// CLI): the request and response bodies, the problem slugs, and the RFC 9457
// Problem type that the server writes and the clients parse. docs/openapi.yaml
// describes the same API; the server's tests validate every response against it.
package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/assent-app/assent/consent"
)

// ---- problems -------------------------------------------------------------------

// ProblemTypePrefix starts every problem type; the slug follows.
const ProblemTypePrefix = "tag:assent.app,2026:problem/"

// Problem is an error answer (RFC 9457 application/problem+json).
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

// NewProblem builds a problem with the type for slug.
func NewProblem(status int, slug, title, detail string) *Problem {
	return &Problem{Type: ProblemTypePrefix + slug, Title: title, Status: status, Detail: detail}
}

// Body is the problem's JSON encoding.
func (p *Problem) Body() []byte {
	b, _ := json.Marshal(p)
	return b
}

// Write sends the problem as the response (no-store).
func (p *Problem) Write(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	w.Write(p.Body())
}

func (p *Problem) Error() string {
	if p.Detail != "" {
		return fmt.Sprintf("server refused (%d %s): %s", p.Status, p.Title, p.Detail)
	}
	return fmt.Sprintf("server answered %d %s", p.Status, http.StatusText(p.Status))
}

// Slug is the last part of the problem type, e.g. "record-invalid".
func (p *Problem) Slug() string {
	if i := strings.LastIndexByte(p.Type, '/'); i >= 0 {
		return p.Type[i+1:]
	}
	return p.Type
}

// Temporary reports whether retrying the same request later may succeed.
func (p *Problem) Temporary() bool {
	return p.Status >= 500 || p.Status == http.StatusRequestTimeout || p.Status == http.StatusTooManyRequests || p.Status == http.StatusLocked
}

// ParseProblem reads an error answer; a body that is not problem+json keeps
// its first line (at most 300 bytes) as the detail.
func ParseProblem(status int, body []byte) *Problem {
	p := &Problem{Status: status}
	if len(body) > 0 && body[0] == '{' {
		if json.Unmarshal(body, p) == nil {
			p.Status = status
			return p
		}
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n")
	if len(line) > 300 {
		line = line[:300]
	}
	p.Title = http.StatusText(status)
	p.Detail = line
	return p
}

// Problem slugs a client branches on (docs/server-api.md lists them all).
const (
	SlugUnauthenticated    = "unauthenticated"
	SlugTokenExpired       = "token-expired"
	SlugDeleted            = "deleted"
	SlugNoRecording        = "no-recording"
	SlugNoUpload           = "no-upload"
	SlugFinalised          = "finalised"
	SlugRecordInvalid      = "record-invalid"
	SlugRecordNotExtension = "record-not-extension"
	SlugSegmentNotInRecord = "segment-not-in-record"
	SlugPolicyNotSet       = "policy-not-set"
	SlugPolicyMismatch     = "policy-mismatch"
	SlugQuotaUploads       = "quota-uploads"
	SlugQuotaBytes         = "quota-bytes"
	SlugTooManyFailures    = "too-many-failures"
	SlugMethodNotAllowed   = "method-not-allowed"
	SlugTooLarge           = "too-large"
	SlugInternal           = "internal"
)

// ---- bodies ---------------------------------------------------------------------

// EnrolRequest is the body of POST /v1/enrol.
type EnrolRequest struct {
	Code         string `json:"code"`
	Name         string `json:"name"`
	SigningKey   string `json:"signing_key"`   // base64 (std) Ed25519 public key
	AgeRecipient string `json:"age_recipient"` // age1...
}

// EnrolResponse is the answer to a successful enrolment.
type EnrolResponse struct {
	DeviceID        string `json:"device_id"`
	Token           string `json:"token"`
	EscrowRecipient string `json:"escrow_recipient,omitempty"`
	// PolicyKey is the server's policy public key (base64 Ed25519): the
	// device checks every policy it fetches (GET /v1/policy) against it.
	PolicyKey string `json:"policy_key"`
	// Policy is the policy in force, if the organisation has set one.
	Policy *PolicyAnswer `json:"policy,omitempty"`
}

// RegisterRequest is the body of POST /v1/recordings.
type RegisterRequest struct {
	ID     string          `json:"id"`
	Record json.RawMessage `json:"record"`
	// Notices are the exact notice texts the record cites (its
	// notice.texts), each with the SHA-256 of its bytes. When present they
	// must be complete: one text per cited sha256 and nothing else. Older
	// devices send none.
	Notices []NoticeText `json:"notices,omitempty"`
}

// NoticeText is one exact rendered notice text sent with a record.
type NoticeText struct {
	SHA256 string `json:"sha256"` // hex SHA-256 of Text's UTF-8 bytes
	Lang   string `json:"lang"`
	Text   string `json:"text"`
}

// SegmentInfo names one segment by index, size and ciphertext SHA-256 (hex).
type SegmentInfo struct {
	Index  int    `json:"index"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// FinaliseRequest is the body of PUT /v1/recordings/{id}/final.
type FinaliseRequest struct {
	Record   json.RawMessage `json:"record"`
	Segments []SegmentInfo   `json:"segments"`
}

// RecordingStatus is what a device learns of one of its recordings.
type RecordingStatus struct {
	ID        string        `json:"id"`
	Created   time.Time     `json:"created"`
	Finalised bool          `json:"finalised"`
	Segments  []SegmentInfo `json:"segments"`
}

// CommitRequest is the body of POST /v1/recordings/{id}/segments/{index}/commit:
// it completes an upload whose bytes all arrived but whose finish was cut off.
type CommitRequest struct {
	Upload string `json:"upload"`
}

// SubjectRequest is the body of the admin subject endpoints.
type SubjectRequest struct {
	Email string `json:"email"`
}

// AdminRecording is one recording in an admin answer.
type AdminRecording struct {
	ID          string    `json:"id"`
	DeviceID    string    `json:"device_id"`
	Created     time.Time `json:"created"`
	Finalised   bool      `json:"finalised"`
	RetainUntil time.Time `json:"retain_until"`
	Segments    int       `json:"segments"`
	Restricted  bool      `json:"restricted"`
}

// AdminDevice is one device in GET /v1/admin/devices.
type AdminDevice struct {
	ID       string     `json:"id"`
	Name     string     `json:"name"`
	Enrolled time.Time  `json:"enrolled"`
	Revoked  *time.Time `json:"revoked,omitempty"`
}

// TokenResponse is the answer of POST /v1/device/token.
type TokenResponse struct {
	Token   string    `json:"token"`
	Expires time.Time `json:"expires"`
}

// PolicyRequest is the body of PUT /v1/admin/policy: the policy without
// its version and issue time, which the server sets. An empty notice id or
// version takes the default notice's newest version.
type PolicyRequest struct {
	NoticeID      string            `json:"noticeId"`
	NoticeVersion string            `json:"noticeVersion"`
	Org           consent.OrgParams `json:"org"`
}

// PolicyAnswer is what GET /v1/policy and the policy admin endpoints return.
type PolicyAnswer struct {
	Version   int                  `json:"version"`
	Policy    consent.SignedPolicy `json:"policy"`
	PublicKey string               `json:"public_key"` // base64 Ed25519 policy key
	Hash      string               `json:"hash"`
}
