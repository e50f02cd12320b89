// Package consent owns the rules that decide whether Assent may record: the
// notices people are shown, the state machine of one call's consent, the
// gate the audio pipeline asks before every buffer, and the signed,
// hash-chained consent record that proves every stored second.
//
// # Notices
//
// A notice is a versioned text per language, stored as
// notices/<id>/<version>/<lang>.md in an fs.FS (assets.Notices() ships the
// defaults; an organisation may layer its own directory of the same layout
// in front). Texts are Go text/template templates over [OrgParams]; the
// rendered text is what the participant reads and what is hashed, so a
// [NoticeRef] (id, version, language, SHA-256) names exactly the words that
// were accepted. Old versions stay loadable.
//
// # Session and gate
//
// A [Session] applies [Event]s (participant added/joined/left, consent
// requested/given/refused/withdrawn, age confirmed, recording
// requested/paused/resumed/stopped) under one lock together with
// [Session.Admit], so each event carries the exact stream offset: the number
// of frames per channel (48 kHz) admitted so far. The gate is open iff
// recording was requested, is neither paused nor stopped, nobody refused,
// at least one participant is present, and every present participant has
// live ConsentGiven to the session's notice version and confirmed the
// minimum age. A single refusal closes the gate for the rest of the session.
// Observers ([Session.Subscribe]) get every state change on their own
// goroutine, never under the session lock.
//
// # Record
//
// Every applied event is appended to the session's [Record]: events are
// SHA-256 hash-chained (the first one to a hash of the record header, which
// binds record id, recording id, device key id and notice) and the head is
// signed with the device's Ed25519 key. The record may be serialised after
// every event and is final after RecordingStopped, or after [Recover] closes
// a record whose app crashed. [Verify] checks syntax, schema, sequence,
// chain, signature, time order, offsets and that every recorded span is
// covered by live consent of everyone present, and returns the [Span]s.
//
// # What this package must never do
//
// It never opens the gate on partial information, never rewrites or drops an
// appended event, never stores or logs audio, keys or personal data (it does
// no I/O besides reading notice files from the fs.FS it is given), and
// never accepts a record it cannot verify. Key storage is the vault's job:
// this package only takes a [crypto.Signer] holding an Ed25519 key.
package consent
