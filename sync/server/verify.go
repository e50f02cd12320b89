package server

import (
	"crypto/ed25519"
	"fmt"

	"github.com/assent-app/assent/consent"
)

// Verified is what assentd needs to know of a consent record that verified.
type Verified struct {
	RecordingID     string   // the recording the record belongs to
	Principals      []string // e-mail addresses of the people in the record
	RetentionMonths int      // 0: use the server's default
	Final           bool     // the record ends with the recording's stop (or recovery)
	FinalOffset     int64    // end of the stream the record covers (frames at 48 kHz)
	Spans           []consent.Span
	Segments        []consent.SegmentRef // the SegmentSealed events, checked by SealedSegments
}

// Verifier checks a consent record (its JSON) against the public signing
// key of the device that registered the recording: the hash chain, the
// signature and that every recorded span is covered by live consent of
// everyone present. The default is ConsentVerify.
type Verifier func(record []byte, devicePub ed25519.PublicKey) (Verified, error)

// ConsentVerify verifies with consent.Verify, the one authority on records.
func ConsentVerify(record []byte, devicePub ed25519.PublicKey) (Verified, error) {
	p, err := consent.Verify(record, devicePub)
	if err != nil {
		return Verified{}, err
	}
	if p.Record == nil {
		return Verified{}, fmt.Errorf("consent: verified record has no content")
	}
	segs, err := SealedSegments(p.Record.Events)
	if err != nil {
		return Verified{}, fmt.Errorf("%w: %v", consent.ErrSchema, err)
	}
	v := Verified{RecordingID: p.RecordingID, RetentionMonths: p.Record.RetentionMonths, Final: p.Final,
		FinalOffset: p.FinalOffset, Spans: p.Spans, Segments: segs}
	for _, e := range p.Record.Events {
		if e.Principal != nil && e.Principal.Email != "" {
			v.Principals = append(v.Principals, e.Principal.Email)
		}
	}
	return v, nil
}
