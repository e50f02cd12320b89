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

// Format is the value of a new record's "format" field. Version 2 binds the
// audio to the record: SegmentSealed events, whose segment is hashed.
const Format = "assent.consent-record.v2"

// FormatV1 is the format before SegmentSealed. Such records still verify
// (with the v1 event hash); they cannot list segments, so they bind no
// audio and a server may refuse them.
const FormatV1 = "assent.consent-record.v1"

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

// EventHash computes the hash of e in a record of the current [Format]
// over its canonical encoding (all fields but Hash; Prev included).
func EventHash(e *Event) string { return eventHash(Format, e) }

// EventHashFormat is [EventHash] for a record of the given format (v1
// records hash no segment).
func EventHashFormat(format string, e *Event) string { return eventHash(format, e) }

func eventHash(format string, e *Event) string {
	tag := "assent.record.event.v2"
	if format == FormatV1 {
		tag = "assent.record.event.v1"
	}
	c := newCanon(tag)
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
	if format != FormatV1 {
		// v2: the segment, written like principal and notice: a presence
		// flag, then every field (absent: 0 and empty strings).
		var sg SegmentRef
		if e.Segment != nil {
			sg = *e.Segment
			c.field("segment", "1")
		} else {
			c.field("segment", "0")
		}
		c.num("segment.index", int64(sg.Index))
		c.num("segment.start", sg.Start)
		c.num("segment.end", sg.End)
		c.field("segment.sha256", sg.SHA256)
		c.num("segment.size", sg.Size)
	}
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

// Final reports whether the record is closed: it holds RecordingStopped or
// Recovered (only SegmentSealed events for audio admitted before the close,
// and a Recovered after RecordingStopped, may follow them).
func (r *Record) Final() bool {
	for i := len(r.Events) - 1; i >= 0; i-- {
		switch r.Events[i].Type {
		case RecordingStopped, Recovered:
			return true
		case SegmentSealed:
			continue
		}
		return false
	}
	return false
}

// recovered reports whether the record holds a Recovered event.
func (r *Record) recovered() bool {
	for i := len(r.Events) - 1; i >= 0; i-- {
		if r.Events[i].Type == Recovered {
			return true
		}
		if r.Events[i].Type != SegmentSealed && r.Events[i].Type != RecordingStopped {
			return false
		}
	}
	return false
}

// Segments returns the segments the record lists (SegmentSealed), in order.
func (r *Record) Segments() []SegmentRef {
	var out []SegmentRef
	for _, e := range r.Events {
		if e.Type == SegmentSealed && e.Segment != nil {
			out = append(out, *e.Segment)
		}
	}
	return out
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
		if e.Segment != nil {
			sg := *e.Segment
			e.Segment = &sg
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

// Recover closes the record of a recording whose app stopped before its
// record was complete (crash, kill, power cut) and binds it to the audio
// that survived. sealed lists the sealed segments found on disk, in order
// (the vault's view: index, start and end offsets, ciphertext hash and
// size); audioEnd is the wall time at which the last of them was sealed
// (the end of the sealed audio; zero if unknown).
//
// The record is first verified against the signer's public key as far as
// it goes (a broken record is not extended). The segments it already lists
// must be a prefix of sealed (a listed segment that is missing or differs on
// disk is an error wrapping [ErrAudioMismatch]). Then:
//
//   - every sealed segment the record does not list yet (the app died
//     between the rename of the segment file and the save of the record) is
//     appended as SegmentSealed;
//   - unless the record already ends exactly at the end of the sealed audio
//     with RecordingStopped or Recovered, a Recovered event is appended whose
//     offset is the end of the sealed audio and whose time is audioEnd (not
//     earlier than the last event); its reason says when recovery ran (now);
//   - the head is re-signed.
//
// Recover is idempotent: for a record that is already complete it returns
// data unchanged, so a recovery that crashed after saving the record can
// simply run again. Audio after the last event belongs to the state after
// that event; if the gate was closed there, the result does not verify —
// callers run [Verify] and must not keep that audio.
func Recover(data []byte, sealed []SegmentRef, audioEnd time.Time, signer crypto.Signer, now time.Time) ([]byte, error) {
	pub, err := ed25519Public(signer)
	if err != nil {
		return nil, err
	}
	r, err := Parse(data)
	if err != nil {
		return nil, err
	}
	if _, err := verifyRecord(r, pub, false); err != nil {
		return nil, err
	}
	listed := r.Segments()
	if len(listed) > len(sealed) {
		return nil, fmt.Errorf("%w: the record lists %d segments, only %d are sealed on disk (segment %d is missing)", ErrAudioMismatch, len(listed), len(sealed), len(sealed)+1)
	}
	var end int64
	for i, s := range sealed {
		if s.Index != i+1 || s.Start != end || s.End < s.Start {
			return nil, fmt.Errorf("%w: sealed segment %d (index %d, %d–%d) does not continue the audio at %d", ErrAudioMismatch, i+1, s.Index, s.Start, s.End, end)
		}
		if i < len(listed) && listed[i] != s {
			return nil, fmt.Errorf("%w: segment %d on disk differs from the one the record lists (hash, size or span)", ErrAudioMismatch, s.Index)
		}
		end = s.End
	}
	if audioEnd.IsZero() {
		audioEnd = now
	}
	changed := false
	last := func() *Event { return &r.Events[len(r.Events)-1] }
	appendEvent := func(e Event) {
		e.Seq = len(r.Events)
		e.Prev = r.Head()
		e.Time = formatTime(notBefore(audioEnd, r))
		e.Hash = eventHash(r.Format, &e)
		r.Events = append(r.Events, e)
		changed = true
	}
	unlisted := sealed[len(listed):]
	if r.Format == FormatV1 {
		unlisted = nil // a v1 record cannot list segments; it only gets closed
	}
	for _, s := range unlisted {
		off := s.End
		if n := len(r.Events); n > 0 && last().Offset > off {
			off = last().Offset
		}
		sg := s
		appendEvent(Event{Type: SegmentSealed, Offset: off, Segment: &sg})
	}
	closedAtEnd := false
	for i := len(r.Events) - 1; i >= 0; i-- {
		t := r.Events[i].Type
		if t == RecordingStopped || t == Recovered {
			closedAtEnd = r.Events[i].Offset == end || (r.Format == FormatV1 && t == RecordingStopped)
			if t == Recovered {
				closedAtEnd = true // Recovered is final
			}
			break
		}
		if t != SegmentSealed {
			break
		}
	}
	if !closedAtEnd {
		appendEvent(Event{Type: Recovered, Offset: end,
			Reason: "app stopped before the record was closed; closed at the end of the sealed audio (recovery ran " + formatTime(now) + ")"})
	}
	if !changed {
		return data, nil
	}
	if err := r.sign(signer); err != nil {
		return nil, err
	}
	return r.Marshal()
}
