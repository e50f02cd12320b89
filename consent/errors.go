package consent

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error this package returns wraps one of them, so
// callers can branch with errors.Is; the typed errors below add where.
var (
	ErrBadOrg         = errors.New("consent: bad organisation settings")
	ErrNoNotice       = errors.New("consent: notice not available")
	ErrNoticeMismatch = errors.New("consent: notice does not match the record")
	ErrBadConfig      = errors.New("consent: bad session configuration")
	ErrTransition     = errors.New("consent: event not allowed in this state")
	ErrFinal          = errors.New("consent: record is final")

	ErrMalformed      = errors.New("consent: record is not well-formed JSON")
	ErrSchema         = errors.New("consent: record does not match the schema")
	ErrSequence       = errors.New("consent: event sequence numbers are wrong")
	ErrChain          = errors.New("consent: hash chain broken")
	ErrSignature      = errors.New("consent: signature does not verify")
	ErrWrongKey       = errors.New("consent: record was signed by another device key")
	ErrTime           = errors.New("consent: event times go backwards")
	ErrOffset         = errors.New("consent: stream offsets are inconsistent")
	ErrNotCovered     = errors.New("consent: recorded audio not covered by consent")
	ErrWrongRecording = errors.New("consent: record belongs to another recording")
	ErrAudioMismatch  = errors.New("consent: the record and the sealed audio do not match")
)

// FieldError locates a syntax or schema problem by JSON path.
type FieldError struct {
	Path string // JSON pointer-like path, e.g. "/events/3/offset"
	Msg  string
	Err  error // ErrMalformed or ErrSchema
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%v at %s: %s", e.Err, e.Path, e.Msg)
}
func (e *FieldError) Unwrap() error { return e.Err }

// EventError says which event of a record is wrong.
type EventError struct {
	Index int       // position in the events array
	Type  EventType // the event's type, if known
	Err   error     // a sentinel, possibly wrapped with detail
}

func (e *EventError) Error() string {
	return fmt.Sprintf("event %d (%s): %v", e.Index, e.Type, e.Err)
}
func (e *EventError) Unwrap() error { return e.Err }

// CoverageError reports recorded audio that no consent covers.
type CoverageError struct {
	From, To    int64  // stream offsets (frames at 48 kHz) of the uncovered audio
	AfterEvent  int    // index of the last event before the audio; -1 if none
	Participant string // who lacked consent, if one person is to blame
	Reason      string
}

func (e *CoverageError) Error() string {
	who := ""
	if e.Participant != "" {
		who = " (participant " + e.Participant + ")"
	}
	where := fmt.Sprintf("after event %d", e.AfterEvent)
	if e.AfterEvent < 0 {
		where = "before the first event"
	}
	return fmt.Sprintf("%v: frames [%d, %d) %s: %s%s", ErrNotCovered, e.From, e.To, where, e.Reason, who)
}
func (e *CoverageError) Unwrap() error { return ErrNotCovered }
