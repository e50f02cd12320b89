package consent

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// MaxRecordSize bounds the records Parse and Verify accept (16 MiB).
const MaxRecordSize = 16 << 20

// SpanParticipant is one person present during a recorded span.
type SpanParticipant struct {
	ID     string    `json:"id"`
	Name   string    `json:"name"`
	Method Method    `json:"method"`
	Notice NoticeRef `json:"notice"` // the notice text they accepted
}

// Span is a range of the recorded stream, [From, To) in frames per channel
// at 48 kHz, with the same people present throughout.
type Span struct {
	From         int64             `json:"from"`
	To           int64             `json:"to"`
	Participants []SpanParticipant `json:"participants"`
}

// Proof is what a verified record shows.
type Proof struct {
	RecordID    string
	RecordingID string
	DeviceKeyID string
	Final       bool  // ends with RecordingStopped or Recovered
	Recovered   bool  // ends with Recovered
	FinalOffset int64 // end of the recorded stream the record covers
	Spans       []Span
	// Segments are the sealed segments the record lists (SegmentSealed), in
	// order; in a final v2 record they end exactly at FinalOffset.
	Segments []SegmentRef
	// AudioBound reports that the record binds its audio: it lists
	// segments (which, once final, end exactly at FinalOffset) or covers no
	// audio at all. A record without SegmentSealed events (v1, or written
	// without a seal path) proves consent for its offsets but names no
	// audio; a server must not store segments for it, and `assent verify`
	// finds the vault's segments unlisted.
	AudioBound bool
	Record     *Record
}

// Expect checks that the proof is for recordingID.
func (p *Proof) Expect(recordingID string) error {
	if p.RecordingID != recordingID {
		return fmt.Errorf("%w: the record is for recording %q, not %q", ErrWrongRecording, p.RecordingID, recordingID)
	}
	return nil
}

// Parse decodes a record strictly: well-formed JSON, a single value, no
// unknown fields, and valid against consent/schema/record.schema.json.
// It does not check hashes or the signature; use [Verify] for that.
func Parse(data []byte) (*Record, error) {
	if len(data) > MaxRecordSize {
		return nil, &FieldError{Path: "/", Msg: fmt.Sprintf("record is %d bytes, more than the limit of %d", len(data), MaxRecordSize), Err: ErrMalformed}
	}
	if !utf8.Valid(data) {
		i := 0
		for i < len(data) {
			r, n := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			i += n
		}
		return nil, &FieldError{Path: "/", Msg: fmt.Sprintf("invalid UTF-8 at byte %d", i), Err: ErrMalformed}
	}
	var doc any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, syntaxError(data, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &FieldError{Path: "/", Msg: "data after the end of the record", Err: ErrMalformed}
	}
	if err := schemaValidate(doc); err != nil {
		return nil, err
	}
	var r Record
	dec = json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		// The schema accepted it, so this is a type the schema does not pin.
		return nil, &FieldError{Path: "/", Msg: err.Error(), Err: ErrSchema}
	}
	if err := checkStrict(data, &r); err != nil { // duplicate keys, non-canonical encoding: strict.go
		return nil, err
	}
	return &r, nil
}

func syntaxError(data []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line := 1 + bytes.Count(data[:min(int(se.Offset), len(data))], []byte("\n"))
		return &FieldError{Path: "/", Msg: fmt.Sprintf("%v (byte %d, line %d)", se, se.Offset, line), Err: ErrMalformed}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &FieldError{Path: "/", Msg: "the record ends early (truncated?)", Err: ErrMalformed}
	}
	return &FieldError{Path: "/", Msg: err.Error(), Err: ErrMalformed}
}

// Verify checks a serialised record against the device public key: JSON
// syntax and schema, sequence numbers, the hash chain from the header,
// the signature, time order, offsets, every event's legality in the state
// it meets, and that every recorded frame in [0, final offset) is covered
// by live consent of everyone present. It returns the spans. It does not
// require the record to be final; check Proof.Final for that, and
// Proof.Expect for the recording id.
func Verify(data []byte, pub ed25519.PublicKey) (*Proof, error) {
	r, err := Parse(data)
	if err != nil {
		return nil, err
	}
	return verifyRecord(r, pub, true)
}

// VerifyRecord is [Verify] for a decoded record. It re-runs the schema
// check on r's JSON encoding.
func VerifyRecord(r *Record, pub ed25519.PublicKey) (*Proof, error) {
	if r == nil {
		return nil, &FieldError{Path: "/", Msg: "no record", Err: ErrMalformed}
	}
	if err := validateRecord(r); err != nil {
		return nil, err
	}
	return verifyRecord(r, pub, true)
}

func validateRecord(r *Record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return &FieldError{Path: "/", Msg: err.Error(), Err: ErrMalformed}
	}
	var doc any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return &FieldError{Path: "/", Msg: err.Error(), Err: ErrMalformed}
	}
	return schemaValidate(doc)
}

func verifyRecord(r *Record, pub ed25519.PublicKey, checkSig bool) (*Proof, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: the device public key has %d bytes, an Ed25519 key has 32", ErrWrongKey, len(pub))
	}
	if r.DeviceKeyID != KeyID(pub) {
		return nil, fmt.Errorf("%w: record names device key %s, the key given is %s", ErrWrongKey, r.DeviceKeyID, KeyID(pub))
	}
	if r.Format != Format && r.Format != FormatV1 {
		return nil, &FieldError{Path: "/format", Msg: fmt.Sprintf("format %q, want %q", r.Format, Format), Err: ErrSchema}
	}
	if r.Format == FormatV1 {
		for i := range r.Events {
			if r.Events[i].Type == SegmentSealed || r.Events[i].Segment != nil {
				return nil, &FieldError{Path: fmt.Sprintf("/events/%d", i), Msg: FormatV1 + " records cannot list segments (their hash does not cover them)", Err: ErrSchema}
			}
		}
	}
	if _, err := parseTime(r.CreatedAt); err != nil {
		return nil, &FieldError{Path: "/createdAt", Msg: "not an RFC 3339 UTC time with nanoseconds", Err: ErrSchema}
	}
	langs := map[string]bool{}
	for i, t := range r.Notice.Texts {
		if langs[t.Lang] {
			return nil, &FieldError{Path: fmt.Sprintf("/notice/texts/%d/lang", i), Msg: "language listed twice", Err: ErrSchema}
		}
		langs[t.Lang] = true
	}
	// Chain, sequence, time.
	prev := r.HeaderHash()
	var lastTime string
	for i := range r.Events {
		e := &r.Events[i]
		if e.Seq != i {
			return nil, &EventError{Index: i, Type: e.Type, Err: fmt.Errorf("%w: seq is %d, want %d (events reordered, dropped or duplicated)", ErrSequence, e.Seq, i)}
		}
		if e.Prev != prev {
			return nil, &EventError{Index: i, Type: e.Type, Err: fmt.Errorf("%w: prev does not match the hash of the previous event", ErrChain)}
		}
		if h := eventHash(r.Format, e); e.Hash != h {
			return nil, &EventError{Index: i, Type: e.Type, Err: fmt.Errorf("%w: the event's content does not match its hash (altered)", ErrChain)}
		}
		prev = e.Hash
		if _, err := parseTime(e.Time); err != nil {
			return nil, &EventError{Index: i, Type: e.Type, Err: fmt.Errorf("%w: time %q is not RFC 3339 UTC with nanoseconds", ErrTime, e.Time)}
		}
		if e.Time < lastTime || (i == 0 && e.Time < r.CreatedAt) {
			return nil, &EventError{Index: i, Type: e.Type, Err: fmt.Errorf("%w: %s is before the previous time", ErrTime, e.Time)}
		}
		lastTime = e.Time
	}
	if checkSig {
		s := r.Signature
		if s == nil {
			return nil, fmt.Errorf("%w: the record is not signed", ErrSignature)
		}
		if s.Alg != "Ed25519" || s.KeyID != r.DeviceKeyID {
			return nil, fmt.Errorf("%w: signature alg %q key %q, want Ed25519 by %s", ErrSignature, s.Alg, s.KeyID, r.DeviceKeyID)
		}
		if s.Count != len(r.Events) || s.Head != r.Head() {
			return nil, fmt.Errorf("%w: signature covers %d events ending in %.12s…, the record has %d ending in %.12s… (truncated or extended)", ErrSignature, s.Count, s.Head, len(r.Events), r.Head())
		}
		sig, err := base64.StdEncoding.DecodeString(s.Value)
		if err != nil || !ed25519.Verify(pub, signedMessage(r.RecordID, len(r.Events), r.Head()), sig) {
			return nil, fmt.Errorf("%w: Ed25519 signature over the head is invalid (tampered, or signed by another key)", ErrSignature)
		}
	}
	spans, final, err := replay(r)
	if err != nil {
		return nil, err
	}
	p := &Proof{RecordID: r.RecordID, RecordingID: r.RecordingID, DeviceKeyID: r.DeviceKeyID,
		Final: r.Final(), FinalOffset: final, Spans: spans, Segments: r.Segments(), Record: r}
	p.Recovered = p.Final && r.recovered()
	if err := checkSegments(r, p, checkSig); err != nil {
		return nil, err
	}
	return p, nil
}

// Spans replays a record's events (without checking hashes or signature)
// and returns the recorded spans, or an error if an event is illegal or
// audio was recorded while the gate was closed.
func Spans(r *Record) ([]Span, error) {
	spans, _, err := replay(r)
	return spans, err
}

// checkSegments checks the audio binding of a verified v2 record: each
// segment ends no later than the offset of its SegmentSealed event (audio
// is sealed only after it was admitted), lies inside the recorded spans,
// and in a final record that lists segments they end exactly at the final offset
// (unless closed is false: Recover checks a record it is about to close).
// Index and start continuity are checked by the machine during replay.
func checkSegments(r *Record, p *Proof, closed bool) error {
	if r.Format == FormatV1 {
		return nil
	}
	for i := range r.Events {
		e := &r.Events[i]
		if e.Type == SegmentSealed && e.Segment.End > e.Offset {
			return &EventError{Index: i, Type: e.Type, Err: fmt.Errorf("%w: segment %d ends at %d, after the %d frames admitted when it was sealed", ErrOffset, e.Segment.Index, e.Segment.End, e.Offset)}
		}
	}
	var end int64
	if n := len(p.Segments); n > 0 {
		end = p.Segments[n-1].End
	}
	if end > p.FinalOffset {
		return fmt.Errorf("%w: the segments hold audio up to %d, the record covers only %d", ErrAudioMismatch, end, p.FinalOffset)
	}
	// A record that binds audio binds all of it. A record that lists no
	// segment binds none (AudioBound false): it proves consent for the
	// offsets, but a store must not accept audio for it.
	p.AudioBound = len(p.Segments) > 0 || p.FinalOffset == 0
	if closed && p.Final && len(p.Segments) > 0 && end != p.FinalOffset {
		return fmt.Errorf("%w: the record is closed at offset %d but its sealed segments end at %d: audio the record claims is not bound to it", ErrAudioMismatch, p.FinalOffset, end)
	}
	// Every segment's span lies inside the spans (consent covered it).
	k := 0
	for _, sg := range p.Segments {
		from := sg.Start
		for from < sg.End {
			for k < len(p.Spans) && p.Spans[k].To <= from {
				k++
			}
			if k == len(p.Spans) || p.Spans[k].From > from {
				return &CoverageError{From: from, To: sg.End, AfterEvent: -1, Reason: fmt.Sprintf("segment %d holds audio no consent covers", sg.Index)}
			}
			from = min(sg.End, p.Spans[k].To)
		}
	}
	return nil
}

func replay(r *Record) ([]Span, int64, error) {
	if r.MinAge < MinMinAge || r.MinAge > MaxMinAge {
		return nil, 0, &FieldError{Path: "/minAge", Msg: fmt.Sprintf("minimum age %d outside %d–%d", r.MinAge, MinMinAge, MaxMinAge), Err: ErrSchema}
	}
	m := newMachine(r.Notice, r.MinAge)
	var spans []Span
	n := len(r.Events)
	if n > 0 && r.Events[0].Offset > 0 {
		// Before the first event the gate is closed: no audio may precede it.
		return nil, 0, &CoverageError{From: 0, To: r.Events[0].Offset, AfterEvent: -1, Reason: "audio before the first event, when recording was not requested"}
	}
	for i := range r.Events {
		e := &r.Events[i]
		if err := m.apply(e); err != nil {
			return nil, 0, &EventError{Index: i, Type: e.Type, Err: err}
		}
		if e.Type == Recovered && i != n-1 {
			return nil, 0, &EventError{Index: i, Type: e.Type, Err: fmt.Errorf("%w: events after Recovered", ErrFinal)}
		}
		if e.Offset < 0 {
			return nil, 0, &EventError{Index: i, Type: e.Type, Err: fmt.Errorf("%w: negative offset", ErrOffset)}
		}
		if i+1 >= n {
			break
		}
		next := r.Events[i+1]
		if next.Type == Recovered {
			// The sealed audio may end before the last event (the tail was
			// never sealed) or after it (state at event i covers it).
			if next.Offset > e.Offset {
				if err := coverSpan(m, &spans, e.Offset, next.Offset, i); err != nil {
					return nil, 0, err
				}
			}
			continue
		}
		if next.Offset < e.Offset {
			return nil, 0, &EventError{Index: i + 1, Type: next.Type, Err: fmt.Errorf("%w: offset %d is before the previous event's %d", ErrOffset, next.Offset, e.Offset)}
		}
		if next.Offset > e.Offset {
			if err := coverSpan(m, &spans, e.Offset, next.Offset, i); err != nil {
				return nil, 0, err
			}
		}
	}
	var final int64
	if n > 0 {
		final = r.Events[n-1].Offset
	}
	// A recovered record that ends before audio that events mention: clip.
	out := spans[:0]
	for _, s := range spans {
		if s.From >= final {
			continue
		}
		if s.To > final {
			s.To = final
		}
		out = append(out, s)
	}
	return out, final, nil
}

func coverSpan(m *machine, spans *[]Span, from, to int64, after int) error {
	if !m.open() {
		ce := &CoverageError{From: from, To: to, AfterEvent: after, Reason: closedReason(m)}
		if b := m.blockers(); len(b) == 1 {
			ce.Participant = b[0]
		}
		return ce
	}
	var ps []SpanParticipant
	for _, id := range m.order {
		p := m.parts[id]
		if p.Present {
			ps = append(ps, SpanParticipant{ID: id, Name: p.Principal.Name, Method: p.Method, Notice: *p.Notice})
		}
	}
	if k := len(*spans); k > 0 && (*spans)[k-1].To == from && sameParticipants((*spans)[k-1].Participants, ps) {
		(*spans)[k-1].To = to
		return nil
	}
	*spans = append(*spans, Span{From: from, To: to, Participants: ps})
	return nil
}

func sameParticipants(a, b []SpanParticipant) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func closedReason(m *machine) string {
	switch {
	case m.final:
		return "the recording had ended"
	case m.refused:
		return "someone refused consent"
	case !m.requested:
		return "recording was not requested"
	case m.paused:
		return "recording was paused"
	}
	if b := m.blockers(); len(b) > 0 {
		return "present participants without live consent or age confirmation: " + strings.Join(b, ", ")
	}
	return "nobody was present"
}
