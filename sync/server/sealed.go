package server

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"sort"

	"github.com/assent-app/assent/consent"
)

// Audio bound to the record (issue 11 item 1). A device appends a
// SegmentSealed event (index, stream span, ciphertext SHA-256 and size) to
// the signed, hash-chained consent record for every sealed segment before it
// offers the segment for upload. The server then stores a segment only if
// the latest verified record it holds lists it with exactly that hash and
// size, and every frame of its span is covered by consent; it finalises only
// with a final record whose segments are exactly those stored.
//
// Config.RequireSealedSegments makes the listing mandatory. Without it (the
// default until every device writes SegmentSealed events) a record that
// lists no segment is accepted as before, but a record that lists any is
// held to all of the rules above.

// SealedSegments extracts and checks the SegmentSealed events of a record's
// events: numbered 1, 2, … without gaps, each starting where the previous
// ended, with a positive size and a SHA-256 in hex.
func SealedSegments(events []consent.Event) ([]consent.SegmentRef, error) {
	var out []consent.SegmentRef
	for i, e := range events {
		if e.Type != consent.SegmentSealed {
			continue
		}
		if e.Segment == nil {
			return nil, fmt.Errorf("event %d (SegmentSealed) names no segment", i)
		}
		sg := *e.Segment
		want := len(out) + 1
		switch {
		case sg.Index != want:
			return nil, fmt.Errorf("event %d seals segment %d, the next segment is %d (segments are numbered from 1 without gaps)", i, sg.Index, want)
		case !sha256Re.MatchString(sg.SHA256):
			return nil, fmt.Errorf("segment %d: sha256 must be 64 lower-case hex digits", sg.Index)
		case sg.Size <= 0:
			return nil, fmt.Errorf("segment %d: size must be positive", sg.Index)
		case sg.Start < 0 || sg.End < sg.Start:
			// An empty span is legitimate: the last segment of a call can
			// hold only the closing (end-of-stream) page, as consent.Verify
			// accepts.
			return nil, fmt.Errorf("segment %d: span [%d, %d) is negative", sg.Index, sg.Start, sg.End)
		case len(out) > 0 && sg.Start != out[len(out)-1].End:
			return nil, fmt.Errorf("segment %d starts at frame %d, segment %d ended at %d (segments must follow each other)", sg.Index, sg.Start, sg.Index-1, out[len(out)-1].End)
		}
		out = append(out, sg)
	}
	return out, nil
}

// covered reports whether [from, to) lies inside the union of spans.
func covered(spans []consent.Span, from, to int64) bool {
	ss := append([]consent.Span(nil), spans...)
	sort.Slice(ss, func(i, j int) bool { return ss[i].From < ss[j].From })
	at := from
	for _, sp := range ss {
		if sp.From > at {
			break
		}
		if sp.To > at {
			at = sp.To
		}
		if at >= to {
			return true
		}
	}
	return at >= to
}

// checkSealedSegment checks that the record version v lists segment idx
// with sum and size and that consent covers its span.
func (s *Server) checkSealedSegment(v Verified, idx int, sum string, size int64) error {
	if len(v.Segments) == 0 && !s.cfg.RequireSealedSegments {
		return nil
	}
	for _, sg := range v.Segments {
		if sg.Index != idx {
			continue
		}
		if sg.SHA256 != sum || sg.Size != size {
			return fmt.Errorf("the consent record seals segment %d as %d bytes with SHA-256 %s, the upload has %d bytes with %s", idx, sg.Size, sg.SHA256, size, sum)
		}
		if sg.End > v.FinalOffset || !covered(v.Spans, sg.Start, sg.End) {
			return fmt.Errorf("segment %d holds frames [%d, %d) that the consent record does not cover with everyone's consent", idx, sg.Start, sg.End)
		}
		return nil
	}
	return fmt.Errorf("the latest consent record the server holds does not list segment %d; send the record that seals it (register again) before uploading the segment", idx)
}

// sealedMatchStored checks a final record against the stored segments.
func (s *Server) sealedMatchStored(v Verified, stored []Segment) error {
	if len(v.Segments) == 0 && !s.cfg.RequireSealedSegments {
		return nil
	}
	if len(v.Segments) != len(stored) {
		return fmt.Errorf("the final consent record seals %d segment(s), the server holds %d; upload every sealed segment, and only those", len(v.Segments), len(stored))
	}
	byIdx := map[int]Segment{}
	for _, sg := range stored {
		byIdx[sg.Index] = sg
	}
	for _, sg := range v.Segments {
		have, ok := byIdx[sg.Index]
		if !ok || have.SHA256 != sg.SHA256 || have.Size != sg.Size {
			return fmt.Errorf("segment %d of the final consent record (%d bytes, SHA-256 %s) is not the stored one", sg.Index, sg.Size, sg.SHA256)
		}
		if !covered(v.Spans, sg.Start, sg.End) || sg.End > v.FinalOffset {
			return fmt.Errorf("segment %d holds frames [%d, %d) that the final consent record does not cover", sg.Index, sg.Start, sg.End)
		}
	}
	if n := len(v.Segments); n > 0 && v.Segments[n-1].End != v.FinalOffset {
		return fmt.Errorf("the final consent record ends at frame %d but its last segment ends at %d: the record and the audio disagree", v.FinalOffset, v.Segments[n-1].End)
	}
	return nil
}

// latestVerified re-verifies the stored record of recording id with the
// device's key (the version every check of an upload is made against).
func (s *Server) latestVerified(ctx context.Context, id string, d Device) (Verified, error) {
	b, err := s.storedRecord(ctx, id)
	if err != nil {
		return Verified{}, err
	}
	if b == nil {
		return Verified{}, fmt.Errorf("no consent record is stored for this recording; register it first")
	}
	return s.cfg.Verify(b, ed25519.PublicKey(d.SigningKey))
}
