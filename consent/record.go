package consent

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Format is the value of a record's "format" field.
const Format = "assent.consent-record.v1"

// Party is the controller of the recordings (Kantara "PII controller").
type Party struct {
	Name    string `json:"name"`
	Contact string `json:"contact"`
}

// Signature signs a record's head (the hash of its last event).
type Signature struct {
	Alg   string `json:"alg"`   // "Ed25519"
	KeyID string `json:"keyId"` // equals the record's deviceKeyId
	Count int    `json:"count"` // number of events signed
	Head  string `json:"head"`  // hex SHA-256 of the last event (header hash if none)
	Value string `json:"value"` // base64 (std, padded) Ed25519 signature
}

// Record is a consent record: a header, the append-only event list and a
// signature over the head of the chain. See docs/consent-record.md.
type Record struct {
	Format           string       `json:"format"`
	RecordID         string       `json:"recordId"`
	RecordingID      string       `json:"recordingId"`
	DeviceKeyID      string       `json:"deviceKeyId"`
	CreatedAt        string       `json:"createdAt"`
	Controller       Party        `json:"controller"`
	Jurisdiction     string       `json:"jurisdiction"`
	Purposes         []string     `json:"purposes"`
	RetentionMonths  int          `json:"retentionMonths"`
	MinAge           int          `json:"minAge"`
	WithdrawalMethod string       `json:"withdrawalMethod"`
	Notice           NoticeSetRef `json:"notice"`
	Facts            *Facts       `json:"facts,omitempty"` // the other facts the notice states (absent in older records)
	Events           []Event      `json:"events"`
	Signature        *Signature   `json:"signature"`
}

// KeyID is the key id of an Ed25519 public key: "ed25519:" and the first
// 16 bytes of its SHA-256 in hex.
func KeyID(pub ed25519.PublicKey) string {
	s := sha256.Sum256(pub)
	return "ed25519:" + hex.EncodeToString(s[:16])
}

// canon builds the canonical byte encoding that is hashed: a domain tag,
// then for each field its name and value, each as a 4-byte big-endian
// length followed by the bytes.
type canon struct{ b bytes.Buffer }

func newCanon(tag string) *canon {
	c := &canon{}
	c.b.WriteString(tag)
	c.b.WriteByte(0)
	return c
}

func (c *canon) put(s string) {
	var l [4]byte
	binary.BigEndian.PutUint32(l[:], uint32(len(s)))
	c.b.Write(l[:])
	c.b.WriteString(s)
}

func (c *canon) field(name, value string) { c.put(name); c.put(value) }
func (c *canon) num(name string, v int64) { c.field(name, strconv.FormatInt(v, 10)) }
func (c *canon) sum() string {
	s := sha256.Sum256(c.b.Bytes())
	return hex.EncodeToString(s[:])
}

// HeaderHash is the hash event 0 chains to. It binds every header field.
func (r *Record) HeaderHash() string {
	c := newCanon("assent.record.header.v1")
	c.field("format", r.Format)
	c.field("recordId", r.RecordID)
	c.field("recordingId", r.RecordingID)
	c.field("deviceKeyId", r.DeviceKeyID)
	c.field("createdAt", r.CreatedAt)
	c.field("controller.name", r.Controller.Name)
	c.field("controller.contact", r.Controller.Contact)
	c.field("jurisdiction", r.Jurisdiction)
	c.num("purposes", int64(len(r.Purposes)))
	for _, p := range r.Purposes {
		c.field("purpose", p)
	}
	c.num("retentionMonths", int64(r.RetentionMonths))
	c.num("minAge", int64(r.MinAge))
	c.field("withdrawalMethod", r.WithdrawalMethod)
	c.field("notice.id", r.Notice.ID)
	c.field("notice.version", r.Notice.Version)
	c.num("notice.texts", int64(len(r.Notice.Texts)))
	for _, t := range r.Notice.Texts {
		c.field("lang", t.Lang)
		c.field("sha256", t.SHA256)
	}
	c.facts(r.Facts)
	return c.sum()
}

// EventHash computes the hash of e over its canonical encoding (all fields
// but Hash; Prev included).
func EventHash(e *Event) string {
	c := newCanon("assent.record.event.v1")
	c.num("seq", int64(e.Seq))
	c.field("type", string(e.Type))
	c.field("time", e.Time)
	c.num("offset", e.Offset)
	c.field("participant", e.Participant)
	var p Principal
	if e.Principal != nil {
		p = *e.Principal
		c.field("principal", "1")
	} else {
		c.field("principal", "0")
	}
	c.field("principal.name", p.Name)
	c.field("principal.email", p.Email)
	c.field("principal.lang", p.Lang)
	c.field("method", string(e.Method))
	c.field("attestedBy", e.AttestedBy)
	var n NoticeRef
	if e.Notice != nil {
		n = *e.Notice
		c.field("notice", "1")
	} else {
		c.field("notice", "0")
	}
	c.field("notice.id", n.ID)
	c.field("notice.version", n.Version)
	c.field("notice.lang", n.Lang)
	c.field("notice.sha256", n.SHA256)
	c.num("minAge", int64(e.MinAge))
	c.field("reason", e.Reason)
	c.field("evidence", e.Evidence)
	c.field("prev", e.Prev)
	return c.sum()
}

// Head is the hash the signature covers: the last event's hash, or the
// header hash of a record without events.
func (r *Record) Head() string {
	if len(r.Events) == 0 {
		return r.HeaderHash()
	}
	return r.Events[len(r.Events)-1].Hash
}

func signedMessage(recordID string, count int, head string) []byte {
	h, _ := hex.DecodeString(head)
	var b bytes.Buffer
	b.WriteString("assent.record.signature.v1")
	b.WriteByte(0)
	b.WriteString(recordID)
	b.WriteByte(0)
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(count))
	b.Write(n[:])
	b.Write(h)
	return b.Bytes()
}

// Final reports whether the record ends with RecordingStopped or Recovered.
func (r *Record) Final() bool {
	if len(r.Events) == 0 {
		return false
	}
	t := r.Events[len(r.Events)-1].Type
	return t == RecordingStopped || t == Recovered
}

func ed25519Public(s crypto.Signer) (ed25519.PublicKey, error) {
	pub, ok := s.Public().(ed25519.PublicKey)
	if !ok || len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: the device signer must hold an Ed25519 key, it holds %T", ErrBadConfig, s.Public())
	}
	return pub, nil
}

// sign sets r.Signature over the current head.
func (r *Record) sign(s crypto.Signer) error {
	pub, err := ed25519Public(s)
	if err != nil {
		return err
	}
	if KeyID(pub) != r.DeviceKeyID {
		return fmt.Errorf("%w: signer key %s is not the record's device key %s", ErrWrongKey, KeyID(pub), r.DeviceKeyID)
	}
	head := r.Head()
	sig, err := s.Sign(nil, signedMessage(r.RecordID, len(r.Events), head), crypto.Hash(0))
	if err != nil {
		return fmt.Errorf("consent: signing the record failed: %w; check that the device key is available", err)
	}
	r.Signature = &Signature{Alg: "Ed25519", KeyID: r.DeviceKeyID, Count: len(r.Events), Head: head,
		Value: base64.StdEncoding.EncodeToString(sig)}
	return nil
}

// Marshal returns the record as indented JSON.
func (r *Record) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("consent: encoding record: %w", err)
	}
	return append(b, '\n'), nil
}

func (r *Record) clone() *Record {
	c := *r
	c.Purposes = append([]string(nil), r.Purposes...)
	c.Notice.Texts = append([]NoticeText(nil), r.Notice.Texts...)
	c.Events = make([]Event, len(r.Events))
	for i, e := range r.Events {
		if e.Principal != nil {
			p := *e.Principal
			e.Principal = &p
		}
		if e.Notice != nil {
			n := *e.Notice
			e.Notice = &n
		}
		c.Events[i] = e
	}
	if r.Signature != nil {
		s := *r.Signature
		c.Signature = &s
	}
	return &c
}

const timeLayout = "2006-01-02T15:04:05.000000000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(s string) (time.Time, error) { return time.Parse(timeLayout, s) }

// Recover closes the record of a recording whose app stopped without
// RecordingStopped (crash, kill, power cut). sealedOffset is the stream
// offset up to which sealed audio exists. The audio between the last event
// and sealedOffset belongs to the state after the last event, so if the gate
// was closed there and sealedOffset is beyond the last event's offset, the
// result does not verify — callers run [Verify] and must not keep that audio.
// The record is first verified against the signer's public key as far as
// it goes (a broken record is not extended), then a Recovered event is
// appended and the head re-signed.
func Recover(data []byte, sealedOffset int64, signer crypto.Signer, now time.Time) ([]byte, error) {
	pub, err := ed25519Public(signer)
	if err != nil {
		return nil, err
	}
	r, err := Parse(data)
	if err != nil {
		return nil, err
	}
	if r.Final() {
		return nil, fmt.Errorf("%w: the record already ends with %s; nothing to recover", ErrFinal, r.Events[len(r.Events)-1].Type)
	}
	if _, err := verifyRecord(r, pub, false); err != nil {
		return nil, err
	}
	if sealedOffset < 0 {
		return nil, fmt.Errorf("%w: sealed offset %d is negative", ErrOffset, sealedOffset)
	}
	e := Event{Seq: len(r.Events), Type: Recovered, Offset: sealedOffset, Prev: r.Head(),
		Reason: "app stopped without stopping the recording; closed at the end of the sealed audio"}
	e.Time = formatTime(notBefore(now, r))
	e.Hash = EventHash(&e)
	r.Events = append(r.Events, e)
	if err := r.sign(signer); err != nil {
		return nil, err
	}
	return r.Marshal()
}
