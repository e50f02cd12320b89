package server

import "crypto/ed25519"

// Verified is what assentd needs to know of a consent record that verified.
type Verified struct {
	RecordingID     string   // the recording the record belongs to
	Principals      []string // the people in the record (e-mail addresses)
	RetentionMonths int      // 0: use the server's default
	Final           bool     // the record ends with the recording's stop
}

// Verifier checks a consent record (its JSON) against the public signing
// key of the device that registered the recording: the hash chain, the
// signature and that every recorded span is covered by live consent of
// everyone present. cmd/assentd plugs in consent.Verify.
type Verifier func(record []byte, devicePub ed25519.PublicKey) (Verified, error)
